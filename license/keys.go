package license

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Keys maps a key id (kid) to a trusted Ed25519 public key.
type Keys map[string]ed25519.PublicKey

// KeyFileError is a file among the trusted keys that is not one: unreadable (a directory, a
// link to nothing) or not an Ed25519 public key in PEM.
type KeyFileError struct {
	Name string
	Err  error
}

func (e *KeyFileError) Error() string { return fmt.Sprintf("load key %s: %v", e.Name, e.Err) }

func (e *KeyFileError) Unwrap() error { return e.Err }

// LoadKeys reads every *.pem file at the top of fsys as a trusted public key whose kid is the
// file's base name without ".pem"; one bad file fails the whole load so a typo is never silent.
func LoadKeys(fsys fs.FS) (Keys, error) {
	names, err := fs.Glob(fsys, "*.pem")
	if err != nil {
		return nil, fmt.Errorf("list key files: %w", err)
	}
	keys := make(Keys, len(names))
	for _, name := range names {
		kid := strings.TrimSuffix(name, ".pem")
		if kid == "" {
			return nil, &KeyFileError{Name: name, Err: errors.New("file name gives an empty key id")}
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, &KeyFileError{Name: name, Err: err}
		}
		pub, err := ParsePublicKeyPEM(b)
		if err != nil {
			return nil, &KeyFileError{Name: name, Err: err}
		}
		keys[kid] = pub
	}
	return keys, nil
}

// ParsePublicKeyPEM parses one Ed25519 public key in PKIX PEM ("PUBLIC KEY"), as `openssl pkey -pubout` writes it.
func ParsePublicKeyPEM(b []byte) (ed25519.PublicKey, error) {
	der, err := decodeSinglePEM(b, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want Ed25519", key)
	}
	return pub, nil
}

// ParsePrivateKeyPEM parses one Ed25519 private key in PKCS#8 PEM ("PRIVATE KEY"), as
// `openssl genpkey -algorithm ed25519` writes it.
func ParsePrivateKeyPEM(b []byte) (ed25519.PrivateKey, error) {
	der, err := decodeSinglePEM(b, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want Ed25519", key)
	}
	return priv, nil
}

// MarshalPublicKeyPEM encodes an Ed25519 public key as PKIX PEM, as `openssl pkey -pubout` writes it.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MarshalPrivateKeyPEM encodes an Ed25519 private key as PKCS#8 PEM, as `openssl genpkey` writes it.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	// x509 would panic on a short key, so check the length first.
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// decodeSinglePEM returns the bytes of the only PEM block in b, which must have the given type;
// a second block is refused because a key file holds exactly one key.
func decodeSinglePEM(b []byte, wantType string) ([]byte, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != wantType {
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, wantType)
	}
	if extra, _ := pem.Decode(rest); extra != nil {
		return nil, errors.New("more than one PEM block found")
	}
	return block.Bytes, nil
}
