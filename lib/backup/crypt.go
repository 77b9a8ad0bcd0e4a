package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

// Client-side encryption. Backups leave the machine already encrypted with
// age (filippo.io/age, the format of the age tool): R2 — or anyone holding
// its keys — only ever sees ciphertext. The recipients are public keys and
// may sit in stack.yml; the identity (the private key) that decrypts is a
// secret, held outside the bucket. The function holds it too, because every
// backup is verified by decrypting it again; the master copy is in the
// Ansible vault and offline (docs/recovery.md), since a lost identity makes
// every encrypted backup unreadable.
var (
	AgeRecipients = config.Register(config.Setting{Name: "BACKUP_AGE_RECIPIENTS",
		Help: "age public keys (age1…, comma-separated) that backups are encrypted to before upload; empty: not encrypted (make run). Production: set, with backup-age-identity", Used: "backup, make restore"})
	AgeIdentity = config.Register(config.Setting{Name: "BACKUP_AGE_IDENTITY", Secret: "backup-age-identity",
		Help: "age identity file (AGE-SECRET-KEY-1… lines; several while rotating) that decrypts backups, for verification and restore; kept outside the bucket", Used: "backup, make restore"})
)

// EncryptedSuffix ends the key of an encrypted database or globals backup
// (".dump.zst.age"), so a downloaded file says how to open it.
const EncryptedSuffix = ".age"

// ageMagic starts every age file: objects are recognised by content, so a
// restore reads encrypted and plain backups alike, whatever the settings
// were when they were made.
const ageMagic = "age-encryption.org/"

// Errors of the encryption layer.
var (
	// ErrNoIdentity: the object is encrypted and no identity is configured.
	ErrNoIdentity = errors.New("backup is encrypted and no age identity is configured")
	// ErrWrongKey: the configured identity is not among the object's recipients.
	ErrWrongKey = errors.New("backup is not encrypted to the configured age identity")
)

// identityWhere names where the identity comes from, for error messages.
const identityWhere = "secret backup-age-identity (or env BACKUP_AGE_IDENTITY)"

// Crypt encrypts to the configured recipients and decrypts with the
// configured identities. The zero value neither encrypts nor decrypts.
type Crypt struct {
	recipients []age.Recipient
	identities []age.Identity
	// public are the recipients as configured, for messages.
	public []string
}

// NewCrypt parses recipients (public keys) and identity (the content of an
// identity file). Either may be empty: no recipients, no encryption; no
// identity, encrypted objects cannot be read. With both, the identity must
// decrypt what is encrypted to the recipients, so a run never produces a
// backup it cannot verify.
func NewCrypt(recipients []string, identity string) (*Crypt, error) {
	c := &Crypt{}
	for _, r := range recipients {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		rs, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil {
			// Not echoed: a private key pasted in the wrong setting must not
			// reach a log.
			return nil, fmt.Errorf("BACKUP_AGE_RECIPIENTS: entry %d is not an age public key (age1…): %w", len(c.public)+1, errors.Unwrap(err))
		}
		c.recipients = append(c.recipients, rs...)
		c.public = append(c.public, r)
	}
	if strings.TrimSpace(identity) != "" {
		ids, err := age.ParseIdentities(strings.NewReader(identity))
		if err != nil {
			return nil, fmt.Errorf("%s: not an age identity file: %v", identityWhere, err)
		}
		c.identities = ids
	}
	if len(c.recipients) > 0 {
		if len(c.identities) == 0 {
			return nil, fmt.Errorf("BACKUP_AGE_RECIPIENTS is set but %s is missing: every backup is verified by decrypting it", identityWhere)
		}
		if !c.canOpenOwn() {
			return nil, fmt.Errorf("%s decrypts none of BACKUP_AGE_RECIPIENTS (%s): backups could not be verified; put the identity's public key (age-keygen -y) among the recipients",
				identityWhere, strings.Join(c.public, ", "))
		}
	}
	return c, nil
}

// CryptFromConfig reads BACKUP_AGE_RECIPIENTS and the backup-age-identity
// secret; a malformed value is recorded in cfg.
func CryptFromConfig(cfg *config.Config) *Crypt {
	recipients := cfg.List(AgeRecipients)
	identity := cfg.String(AgeIdentity)
	c, err := NewCrypt(recipients, identity)
	if err != nil {
		cfg.Reject(AgeRecipients, "%v", err)
		return &Crypt{}
	}
	return c
}

// canOpenOwn encrypts a few bytes to the recipients and decrypts them.
func (c *Crypt) canOpenOwn() bool {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, c.recipients...)
	if err != nil {
		return false
	}
	_, _ = w.Write([]byte("probe"))
	if w.Close() != nil {
		return false
	}
	r, err := age.Decrypt(&b, c.identities...)
	if err != nil {
		return false
	}
	got, err := io.ReadAll(r)
	return err == nil && string(got) == "probe"
}

// Enabled reports whether backups are encrypted.
func (c *Crypt) Enabled() bool { return c != nil && len(c.recipients) > 0 }

// CanDecrypt reports whether an identity is configured.
func (c *Crypt) CanDecrypt() bool { return c != nil && len(c.identities) > 0 }

// Recipients are the configured public keys.
func (c *Crypt) Recipients() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.public)
}

// Seal runs fill with a writer whose bytes reach w encrypted (or as they
// are, when encryption is off) and finishes the age stream afterwards.
func (c *Crypt) Seal(w io.Writer, fill func(io.Writer) error) error {
	if !c.Enabled() {
		return fill(w)
	}
	ew, err := age.Encrypt(w, c.recipients...)
	if err != nil {
		return fmt.Errorf("age: %w", err)
	}
	if err := fill(ew); err != nil {
		return err
	}
	if err := ew.Close(); err != nil {
		return fmt.Errorf("age: %w", err)
	}
	return nil
}

// Open returns the plaintext of the object being read from br: decrypted
// when it starts like an age file, else br itself. key names the object
// in errors. A read error of br is returned as is, so the caller can tell
// an unreachable store from a bad object.
func (c *Crypt) Open(br *bufio.Reader, key string) (io.Reader, bool, error) {
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, err
	}
	if string(head) != ageMagic {
		return br, false, nil
	}
	if !c.CanDecrypt() {
		return nil, true, fault.Wrap(fault.Permanent, fmt.Errorf("%w: %s", ErrNoIdentity, key),
			key+" is encrypted (age): configure its identity, "+identityWhere)
	}
	r, err := age.Decrypt(br, c.identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, true, fault.Wrap(fault.Permanent, fmt.Errorf("%w: %s: %v", ErrWrongKey, key, err),
				key+" was encrypted to other age keys than the identity in "+identityWhere+": restore with the identity whose public key it was encrypted to (docs/recovery.md, keys)")
		}
		if re := (*readError)(nil); errors.As(err, &re) {
			return nil, true, err
		}
		return nil, true, fmt.Errorf("%w: %s: age header: %v", ErrCorrupt, key, err)
	}
	return r, true, nil
}
