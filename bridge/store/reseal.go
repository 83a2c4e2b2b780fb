package store

import (
	"context"
	"fmt"
)

// SealedKind names what a value sealed under the key-encryption key (keys.encryption_key) is:
// its sealing format and additional data follow from it (bridge.Rekey).
type SealedKind string

// The kinds of sealed values the store keeps.
const (
	// SealedSigningKey: a signing key's private key (sso), named by its kid.
	SealedSigningKey SealedKind = "signing_key"
	// SealedSAMLKey: a SAML signing key's private key (bridge/saml), named by its id.
	SealedSAMLKey SealedKind = "saml_key"
	// SealedSecret: an installation secret (bridge/identity), named by its name; one stored in
	// plaintext by an early version is sealed at its next read.
	SealedSecret SealedKind = "secret"
	// SealedTOTP: a member's TOTP secret (bridge/mfa), named by the member's subject.
	SealedTOTP SealedKind = "totp"
)

// SealedValue is one value sealed under the key-encryption key, as stored.
type SealedValue struct {
	Kind  SealedKind
	Name  string
	Value []byte
}

// SealedColumn is a column of the SQL backends holding sealed values: Table.Value, the row
// named by Table.Key.
type SealedColumn struct {
	Kind              SealedKind
	Table, Key, Value string
}

// SealedColumns are every column of the SQL backends holding values sealed under the
// key-encryption key. A new sealed column must be added here, or a changed key-encryption key
// leaves its values unreadable (the Reseal conformance case seals one value of each kind).
var SealedColumns = []SealedColumn{
	{Kind: SealedSigningKey, Table: "signing_keys", Key: "id", Value: "private_enc"},
	{Kind: SealedSAMLKey, Table: "saml_keys", Key: "id", Value: "private_enc"},
	{Kind: SealedSecret, Table: "secrets", Key: "name", Value: "value"},
	{Kind: SealedTOTP, Table: "totp_factors", Key: "subject", Value: "secret_sealed"},
}

// Resealer re-seals the store's sealed values under another key-encryption key (ssobridge
// store rekey). Optional: a store without it cannot change its key-encryption key.
type Resealer interface {
	// Reseal calls reseal for every sealed value the store holds (SealedColumns; expired rows
	// too) and stores what it returns in its place, all in one transaction: the first error
	// rolls every change back and is returned (wrapped, naming the value). It returns how many
	// values it re-sealed.
	Reseal(ctx context.Context, reseal func(SealedValue) ([]byte, error)) (int, error)
}

// SealedTx is what ResealAll needs of a backend's open transaction: one sealed column read
// whole (its rows are changed after the read), and one value written back in place.
type SealedTx interface {
	ReadSealed(ctx context.Context, c SealedColumn) ([]SealedValue, error)
	WriteSealed(ctx context.Context, c SealedColumn, name string, value []byte) error
}

// ResealAll is Resealer.Reseal's loop for a backend, in the transaction tx it has opened (and
// commits, or rolls back on an error): every value of SealedColumns through reseal and back
// in its place. It returns how many it re-sealed; an error names the value.
func ResealAll(ctx context.Context, tx SealedTx, reseal func(SealedValue) ([]byte, error)) (int, error) {
	n := 0
	for _, c := range SealedColumns {
		vals, err := tx.ReadSealed(ctx, c)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", c.Table, err)
		}
		for _, v := range vals {
			sealed, err := reseal(v)
			if err == nil {
				err = tx.WriteSealed(ctx, c, v.Name, sealed)
			}
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", v.Kind, v.Name, err)
			}
			n++
		}
	}
	return n, nil
}
