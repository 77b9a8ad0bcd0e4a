package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/harborstays/concierge/lib/guesty/guestytest"
)

// retryWaits is how the load loop retries one delivery that was not
// acknowledged: the providers' schedules (Svix: at once, 5 s, 5 min,
// 30 min, …; Aircall retries failed webhooks too) compressed into the
// rehearsal's minutes. The same delivery is sent again: Aircall's body
// unchanged, Guesty's with the same svix-id, signed anew.
var retryWaits = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 30 * time.Second, 30 * time.Second}

// loadSummary is what the load loop prints when it ends (one JSON line).
type loadSummary struct {
	Kind string `json:"kind"`
	// First and Last name the deliveries: Aircall call ids First..Last,
	// Guesty svix-ids Prefix-First..Prefix-Last.
	First  int64  `json:"first"`
	Last   int64  `json:"last"`
	Prefix string `json:"prefix,omitempty"`
	// Sent: distinct deliveries; Acknowledged: got a 2xx at last;
	// Non2xx: attempts answered with another status; Errors: attempts
	// without an answer (refused, reset, timeout); Retried: deliveries
	// that needed more than one attempt; GivenUp: never acknowledged.
	Sent         int            `json:"sent"`
	Acknowledged int            `json:"acknowledged"`
	Non2xx       int            `json:"non2xx"`
	Errors       int            `json:"errors"`
	Retried      int            `json:"retried"`
	GivenUp      int            `json:"given_up"`
	Statuses     map[string]int `json:"statuses"`
	MaxLatencyMS int64          `json:"max_latency_ms"`
	Seconds      float64        `json:"seconds"`
}

// load sends distinct, signed provider deliveries through the gateway at
// a steady rate until -count are sent or the -stop file appears, retries
// each until it is acknowledged, and prints a loadSummary.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	gw := fs.String("gateway", "http://127.0.0.1:8080", "gateway URL")
	kind := fs.String("kind", "", "aircall or guesty")
	fixture := fs.String("fixture", "", "the delivery's JSON")
	secret := fs.String("secret", "", "aircall: the webhook token; guesty: the whsec_ secret")
	rate := fs.Float64("rate", 10, "deliveries per second")
	count := fs.Int("count", 0, "stop after this many deliveries (0: until -stop or -max)")
	stop := fs.String("stop", "", "stop sending when this file exists")
	maxDur := fs.Duration("max", 5*time.Minute, "stop sending after this long whatever happens")
	first := fs.Int64("first", time.Now().Unix()*1000, "aircall: the first call id; guesty: the first svix-id number")
	prefix := fs.String("prefix", "msg_rehearsal", "guesty: the svix-id prefix")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(*fixture)
	if err != nil {
		return err
	}
	var fn string
	switch *kind {
	case "aircall":
		fn = "aircall-hook"
	case "guesty":
		fn = "guesty-hook"
	default:
		return fmt.Errorf("-kind %q: want aircall or guesty", *kind)
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	sum := loadSummary{Kind: *kind, First: *first, Prefix: *prefix, Statuses: map[string]int{}}
	if *kind != "guesty" {
		sum.Prefix = ""
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// deliver sends delivery n until acknowledged or out of retries.
	deliver := func(n int64) {
		defer wg.Done()
		body := raw
		id := *prefix + "_" + strconv.FormatInt(n, 10)
		if *kind == "aircall" {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				panic(err)
			}
			m["token"] = *secret
			m["timestamp"] = time.Now().Unix()
			if data, ok := m["data"].(map[string]any); ok {
				data["id"] = n
				// Without a recording: each would queue a transcribe-call
				// job due in CALL_TRANSCRIPT_WAIT that downloads from the
				// fixture's unreachable link. The load exercises intake
				// and the vectorize chain; the voice flow covers stt.
				delete(data, "recording")
			}
			body, _ = json.Marshal(m)
		}
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequest(http.MethodPost, *gw+"/function/"+fn, bytes.NewReader(body))
			if *kind == "guesty" {
				req.Header = guestytest.Sign(*secret, id, time.Now(), body)
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
			t0 := time.Now()
			res, err := client.Do(req)
			lat := time.Since(t0).Milliseconds()
			status := 0
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				status = res.StatusCode
			}
			mu.Lock()
			sum.MaxLatencyMS = max(sum.MaxLatencyMS, lat)
			switch {
			case status/100 == 2:
				sum.Acknowledged++
				if attempt > 0 {
					sum.Retried++
				}
			case status == 0:
				sum.Errors++
				sum.Statuses["no answer"]++
			default:
				sum.Non2xx++
				sum.Statuses[strconv.Itoa(status)]++
			}
			mu.Unlock()
			if status/100 == 2 {
				return
			}
			if attempt >= len(retryWaits) {
				mu.Lock()
				sum.GivenUp++
				mu.Unlock()
				return
			}
			time.Sleep(retryWaits[attempt])
		}
	}
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	for n := *first; ; n++ {
		if *count > 0 && sum.Sent >= *count || time.Since(start) > *maxDur {
			break
		}
		if *stop != "" {
			if _, err := os.Stat(*stop); err == nil {
				break
			}
		}
		wg.Add(1)
		mu.Lock()
		sum.Sent++
		sum.Last = n
		mu.Unlock()
		go deliver(n)
		<-tick.C
	}
	wg.Wait()
	sum.Seconds = time.Since(start).Seconds()
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
