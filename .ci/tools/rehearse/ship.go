package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// buildCopies are the template's build-stage copies and the file of the
// rehearsal's image folder each one becomes.
var buildCopies = map[string]string{
	"/usr/local/bin/fwatchdog":    "fwatchdog",
	"/out/handler":                "handler",
	"/context/function/knowledge": "knowledge",
}

var shipFrom = regexp.MustCompile(`(?i)^FROM\s+.*\s+AS\s+ship\s*$`)

// ship writes the final stage ("AS ship") of a function template's
// Dockerfile as the rehearsal builds it: FROM -base (scratch gets the
// rehearsal's root files), each build-stage COPY pointed at the local file,
// and its RUN instructions (the Debian packages and the nonroot user)
// written to -run-out instead: the rehearsal runs them in a chroot of a
// debootstrap'd Debian, because its engine has no network for builds.
// Everything else — ARG, ENV, WORKDIR, USER, HEALTHCHECK, CMD — is the
// template's, line for line.
func ship(args []string) error {
	fs := flag.NewFlagSet("ship", flag.ExitOnError)
	dockerfile := fs.String("dockerfile", "", "the template's Dockerfile")
	base := fs.String("base", "scratch", "the image that replaces the stage's FROM")
	out := fs.String("out", "", "the Dockerfile to write")
	runOut := fs.String("run-out", "", "where to write the stage's RUN commands (one per line); without it a RUN is an error")
	_ = fs.Parse(args)
	f, err := os.Open(*dockerfile)
	if err != nil {
		return err
	}
	defer f.Close()
	// Instructions, continuation lines joined, comments dropped.
	var instrs []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasPrefix(t, "#") {
			continue
		}
		if c, ok := strings.CutSuffix(t, `\`); ok {
			cur.WriteString(c + " ")
			continue
		}
		cur.WriteString(t)
		instrs = append(instrs, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var df, runs []string
	in := false
	for _, ins := range instrs {
		if shipFrom.MatchString(ins) {
			in = true
			df = append(df, "FROM "+*base)
			if *base == "scratch" {
				df = append(df, "COPY rootfs/ /")
			}
			continue
		}
		if !in {
			continue
		}
		word, rest, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			return fmt.Errorf("%s: a stage after ship", *dockerfile)
		case "RUN":
			if *runOut == "" {
				return fmt.Errorf("%s: the ship stage runs %q; the rehearsal builds it only on a Debian base (-run-out)", *dockerfile, ins)
			}
			runs = append(runs, strings.TrimSpace(rest))
		case "COPY":
			fields := strings.Fields(rest)
			if len(fields) == 3 && fields[0] == "--from=build" {
				local, ok := buildCopies[fields[1]]
				if !ok {
					return fmt.Errorf("%s: unknown build-stage copy %q", *dockerfile, ins)
				}
				df = append(df, fmt.Sprintf("COPY %s %s", local, fields[2]))
				continue
			}
			if strings.HasPrefix(rest, "--from=") {
				return fmt.Errorf("%s: unsupported %q", *dockerfile, ins)
			}
			df = append(df, ins)
		default:
			df = append(df, ins)
		}
	}
	if !in {
		return fmt.Errorf("%s: no stage named ship", *dockerfile)
	}
	if *runOut != "" {
		if err := os.WriteFile(*runOut, []byte(strings.Join(runs, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(*out, []byte(strings.Join(df, "\n")+"\n"), 0o644)
}
