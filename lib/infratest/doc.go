// Package infratest holds tests of the deployment itself (ansible/ and
// terraform/), for what the offline checks of .ci/infra-check cannot see:
//
//   - files_test.go: the attachments' public route. It reads Traefik's
//     routers, services and middlewares from the stack files' labels, builds
//     a reverse proxy that routes and rewrites exactly as Traefik does, puts
//     a real S3 server behind it (lib/objstore/s3test), and follows links
//     presigned the way Chatwoot presigns them, through Chatwoot's blob
//     redirect as stt does. Host or path handling that breaks SigV4 fails it.
//   - standby_test.go: a rehearsal of the PostgreSQL pair's failover with the
//     members' real entrypoint script (pg-member.sh) on local PostgreSQL
//     binaries: clone, stream, promote, rewind the former primary, re-clone.
//
// The package has no code of its own.
package infratest
