package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/logging"
)

// cliEnv opens what an operator command needs: DATABASE_URL when set, else
// the cluster of a running `make run`, else the local cluster under
// DATA_DIR started for the command and stopped after it (starting it while
// the runner holds it would stop the runner's server). close releases
// everything.
func cliEnv(ctx context.Context, env config.LookupFunc, name string) (e *faas.Env, close func(), err error) {
	sys := &system{}
	defer func() {
		if err != nil {
			sys.Close()
		}
	}()
	cfg := config.New(env)
	dataDir := cfg.String(dataDirSetting)
	vars := map[string]string{"KNOWLEDGE_DIR": "knowledge"}
	if u, _ := env("DATABASE_URL"); u == "" {
		url, running := runningLocalDatabase(ctx, dataDir)
		if !running {
			if url, err = localDatabase(ctx, sys, dataDir, logging.New(name, os.Stderr, cfg.String(config.LogLevel))); err != nil {
				return nil, nil, err
			}
		}
		vars["DATABASE_URL"] = url
	}
	e, err = faas.Open(ctx, faas.Options{Name: name, Lookup: config.Layered(env, config.FromMap(vars))})
	if err != nil {
		return nil, nil, err
	}
	sys.close = append(sys.close, e.DB.Close)
	return e, sys.Close, nil
}

// runningLocalDatabase finds the cluster a running `make run` holds under
// dataDir — in ./DATA_DIR/postgres, or in the temp folder localDatabase
// falls back to — from its postmaster.pid, and returns its URL if it answers.
func runningLocalDatabase(ctx context.Context, dataDir string) (string, bool) {
	dir, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256([]byte(dir))
	for _, d := range []string{dir, filepath.Join(os.TempDir(), "concierge-"+hex.EncodeToString(sum[:6]), "postgres")} {
		b, err := os.ReadFile(filepath.Join(d, "postmaster.pid"))
		if err != nil {
			continue
		}
		// Line 4 of postmaster.pid is the port.
		lines := strings.Split(string(b), "\n")
		if len(lines) < 4 {
			continue
		}
		port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
		if err != nil {
			continue
		}
		url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/concierge?sslmode=disable", port)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		conn, err := pgx.Connect(pctx, url)
		cancel()
		if err != nil {
			continue
		}
		_ = conn.Close(ctx)
		return url, true
	}
	return "", false
}

// parseArgs parses a subcommand's flags: -h prints usage to out (help is
// true, and the command does nothing else); a bad flag or a stray argument
// is an error that ends with the usage.
func parseArgs(fs *flag.FlagSet, args []string, usage string, out io.Writer) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, err = io.WriteString(out, usage)
			return true, err
		}
		return false, fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	return false, nil
}
