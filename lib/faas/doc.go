// Package faas is the function runtime: everything between the OpenFaaS
// watchdog and a function's own work, and nothing a domain package needs.
//
//   - Serve/Run (server.go) serve a go-http Handle on the watchdog's
//     upstream port, keep serving through its grace after SIGTERM, then
//     drain.
//   - Env, Build, Entry (env.go) give a function what it needs at start —
//     validated configuration, a logger, the database pool, the signing
//     invoker — and wrap its handler with the per-request plumbing (trace
//     id, request logger, body limit, panic recovery).
//   - Method, Size, Status, JSON, Error, Text (endpoint.go, text.go) are the
//     request plumbing and the one place where error kinds become HTTP
//     statuses.
//   - Runner (step.go, scheduled.go) runs one job step: authenticate the
//     invocation, claim the job, do the work, record the outcome.
//   - Gateway (gateway.go) queues async invocations through the gateway.
//
// Domain packages never import it: they take configuration, a pool and a
// jobs.Invoker, and return errors (fault kinds, jobs.NotReady) the runtime
// maps. Functions, the local runner (localrun) and the function test
// harness (faastest) are its only users.
package faas
