package legacy

// DirectoryConnector is a Connector over a directory that needs no closing, with no further
// capabilities (for tests and fakes).
func DirectoryConnector(d Directory) Connector { return staticConnector{d} }

type staticConnector struct{ d Directory }

func (c staticConnector) Directory() Directory { return c.d }
func (c staticConnector) Close() error         { return nil }
