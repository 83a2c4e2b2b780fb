// Package asciiname checks the short names of the configuration (an upstream provider's name,
// a SAML service provider's id, an amr value, a #rrggbb colour) against their character sets
// and lengths with a loop over the bytes. A regular expression with a counted repetition such
// as [a-z0-9-]{0,31} compiles to one instruction per repetition, held for the life of the
// process: the four such patterns that the configuration used held about 60 KB and 600
// objects of pointer-bearing live heap, which every garbage collection marked again (the
// bridge under discovery load collects about every 1,600 requests). It imports no project
// package.
package asciiname
