package testenv

import (
	"testing"
)

// fakeT records what Skip does instead of ending the test.
type fakeT struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Logf(string, ...any)   {}
func (f *fakeT) Cleanup(func())        {}
func (f *fakeT) Setenv(k, v string)    {}
func (f *fakeT) Name() string          { return "fake" }
func (f *fakeT) TempDir() string       { return "" }
func (f *fakeT) Log(...any)            {}
func (f *fakeT) Error(...any)          { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true }
func (f *fakeT) Skip(...any)           { f.skipped = true }
func (f *fakeT) Failed() bool          { return f.failed }
func (f *fakeT) Skipped() bool         { return f.skipped }
func (f *fakeT) Fail()                 { f.failed = true }
func (f *fakeT) FailNow()              { f.failed = true }
func (f *fakeT) SkipNow()              { f.skipped = true }

func TestMissingToolSkipsLocallyAndFailsInCI(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeT{}
		NeedTools(f, "apt-get install nothing", "go", "concierge-no-such-tool")
		if ci == "" && (!f.skipped || f.failed) {
			t.Errorf("locally: skipped %v failed %v, want a skip", f.skipped, f.failed)
		}
		if ci != "" && (f.skipped || !f.failed) {
			t.Errorf("in CI: skipped %v failed %v, want a failure", f.skipped, f.failed)
		}
		f = &fakeT{}
		NeedTools(f, "", "go")
		if f.skipped || f.failed {
			t.Errorf("CI=%q: a tool on PATH skipped or failed the test", ci)
		}
	}
}
