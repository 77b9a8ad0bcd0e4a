package console

import "time"

// ReasonClassSQL is reasonClassSQL, for the tests that hold it to ReasonClass.
var ReasonClassSQL = reasonClassSQL

// SetRollBudget changes the rollup's budget until the returned func runs.
func SetRollBudget(d time.Duration) func() {
	old := rollBudget
	rollBudget = d
	return func() { rollBudget = old }
}
