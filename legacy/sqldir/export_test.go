package sqldir

// The column contract, for the preset tests of package sqldir_test.
var (
	RequiredColumns = requiredColumns
	HashColumns     = hashColumns
	OptionalColumns = optionalColumns
)

const (
	ColPicture = colPicture
	UTCSuffix  = utcSuffix
)
