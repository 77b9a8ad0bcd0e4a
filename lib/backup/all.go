package backup

import (
	"context"
	"errors"

	"github.com/harborstays/concierge/lib/fault"
)

// Outcome is one database's part of a run (or the globals').
type Outcome struct {
	Database string `json:"database"`
	// Status is StatusVerified or StatusFailed.
	Status string `json:"status"`
	// Stage and Error say where and why it failed; Error is the public
	// message (the log line has the whole cause).
	Stage  string  `json:"stage,omitempty"`
	Error  string  `json:"error,omitempty"`
	Report *Report `json:"report,omitempty"`
	// Err is the cause of a failure.
	Err error `json:"-"`
}

// RunReport is what RunAll did: every database and the globals, each
// verified or failed on its own.
type RunReport struct {
	// Status is StatusVerified when every part verified, else StatusFailed.
	Status    string    `json:"status"`
	Store     string    `json:"store"`
	Encrypted bool      `json:"encrypted"`
	Databases []Outcome `json:"databases"`
	Globals   Outcome   `json:"globals"`
	// Failed names the parts that failed (GlobalsName for the globals).
	Failed []string `json:"failed,omitempty"`
	// Stage and Error of the first failure, for a glance at the answer.
	Stage string `json:"stage,omitempty"`
	Error string `json:"error,omitempty"`
	// Totals over the databases and the globals.
	Bytes         int64   `json:"bytes"`
	DumpBytes     int64   `json:"dump_bytes"`
	DumpSeconds   float64 `json:"dump_seconds"`
	VerifySeconds float64 `json:"verify_seconds"`
}

// Err joins the failures' causes; nil when every part verified.
func (r *RunReport) Err() error {
	var errs []error
	for _, o := range r.parts() {
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	return errors.Join(errs...)
}

// Outages reports whether every failure was an outage (the store or a
// database unreachable), which a later run may not meet again.
func (r *RunReport) Outages() bool {
	for _, o := range r.parts() {
		if o.Err != nil && fault.KindOf(o.Err) != fault.Unavailable {
			return false
		}
	}
	return true
}

func (r *RunReport) parts() []Outcome {
	return append(append([]Outcome(nil), r.Databases...), r.Globals)
}

func (r *RunReport) add(o *Outcome, database string, rep *Report, err error) {
	*o = Outcome{Database: database, Status: StatusVerified, Report: rep}
	if err != nil {
		*o = Outcome{Database: database, Status: StatusFailed, Stage: Stage(err), Error: fault.Public(err), Err: err}
		r.Status = StatusFailed
		r.Failed = append(r.Failed, database)
		if r.Stage == "" {
			r.Stage, r.Error = o.Stage, o.Error
		}
		return
	}
	r.Bytes += rep.Bytes
	r.DumpBytes += rep.DumpBytes
	r.DumpSeconds += rep.DumpSeconds
	r.VerifySeconds += rep.VerifySeconds
}

// databases are the configured databases, without repeats, or DB's own.
func (s *Service) databases(sess *session) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range s.Databases {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = []string{sess.database}
	}
	return out
}

// RunAll backs up, one after the other, every database of Databases and
// then the globals, each verified and retained on its own: a database that
// fails (gone, not allowed, a corrupt read-back) fails its part and the
// run's status, and the others go on. The error is for what stops the
// whole run before any database: the lock, the tools, the store.
func (s *Service) RunAll(ctx context.Context) (*RunReport, error) {
	sess, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.end(ctx)
	dbs := s.databases(sess)
	r := &RunReport{Status: StatusVerified, Store: s.Store.String(), Encrypted: s.Crypt.Enabled(), Databases: make([]Outcome, len(dbs))}
	for i, d := range dbs {
		rep, err := s.backupDatabase(ctx, sess, d)
		r.add(&r.Databases[i], d, rep, err)
	}
	rep, err := s.backupGlobals(ctx, sess, dbs)
	r.add(&r.Globals, GlobalsName, rep, err)
	return r, nil
}
