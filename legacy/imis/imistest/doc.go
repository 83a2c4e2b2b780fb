// Package imistest runs a fake iMIS database for the tests of packages outside legacy (which
// cannot import legacy/internal/tdsfake): a SQL Server speaking TDS on 127.0.0.1, reached
// through the real go-mssqldb driver, with the table the iMIS preset's ping query reads. It
// can stop accepting connections and come back on the same address, as an AMS outage does.
package imistest
