package identity

// SealedSecretPrefix marks a sealed secret in the store (for tests).
var SealedSecretPrefix = sealedSecretPrefix

// FoldNFKC is CanonicalLogin's general case, for the ASCII fast path's test.
var FoldNFKC = foldNFKC
