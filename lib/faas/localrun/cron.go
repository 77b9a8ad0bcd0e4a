package localrun

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	robfig "github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/stack"
)

// Scheduled is a function cron-connector invokes on a schedule: the
// `topic: cron-function` and `schedule` annotations of stack.yml.
type Scheduled struct {
	Function string
	Schedule string
}

// StackSchedules lists the scheduled functions of st, by name.
func StackSchedules(st *stack.Stack) []Scheduled {
	var out []Scheduled
	for _, name := range st.Names() {
		if expr, ok := st.Functions[name].Cron(); ok {
			out = append(out, Scheduled{Function: name, Schedule: expr})
		}
	}
	return out
}

// parser reads schedules exactly as cron-connector does (it builds this
// parser from the same library): five fields, minute first, names for
// months and weekdays, descriptors such as @hourly, and the classic rule
// that a restricted day of month and a restricted weekday match either.
var parser = robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Schedule is a parsed cron schedule.
type Schedule interface {
	// Next returns the first activation after t.
	Next(t time.Time) time.Time
}

// ParseSchedule parses a 5-field cron expression; times are UTC.
func ParseSchedule(expr string) (Schedule, error) {
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cron schedule %q: %w", expr, err)
	}
	return utc{s}, nil
}

// utc evaluates a schedule in UTC, as cron-connector's container does,
// whatever the machine's time zone.
type utc struct{ s robfig.Schedule }

func (u utc) Next(t time.Time) time.Time { return u.s.Next(t.UTC()) }

// Clock is the time source of the scheduler; tests replace it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// CronOptions configure StartCron.
type CronOptions struct {
	Log zerolog.Logger
	// Clock defaults to the wall clock.
	Clock Clock
}

// maxSleep bounds one wait, so a wall clock that jumps (a suspended laptop,
// an NTP step) delays a tick by a minute at most.
const maxSleep = time.Minute

// Cron invokes scheduled functions through a Gateway's async queue, the
// local stand-in for cron-connector.
type Cron struct {
	g       *Gateway
	entries []Scheduled
	scheds  []Schedule
	o       CronOptions
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// StartCron parses every schedule and starts invoking. A function that the
// gateway does not serve (declared in stack.yml, not built yet) is skipped
// at each tick, as cron-connector finds no such function.
func StartCron(g *Gateway, entries []Scheduled, o CronOptions) (*Cron, error) {
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	c := &Cron{g: g, entries: entries, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	for _, e := range entries {
		s, err := ParseSchedule(e.Schedule)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", e.Function, err)
		}
		c.scheds = append(c.scheds, s)
	}
	if len(entries) == 0 {
		close(c.done)
		return c, nil
	}
	go c.loop()
	return c, nil
}

// Schedules returns what the scheduler runs.
func (c *Cron) Schedules() []Scheduled { return append([]Scheduled(nil), c.entries...) }

func (c *Cron) loop() {
	defer close(c.done)
	now := c.o.Clock.Now()
	next := make([]time.Time, len(c.scheds))
	for i, s := range c.scheds {
		next[i] = s.Next(now)
	}
	for {
		earliest := next[0]
		for _, t := range next[1:] {
			if t.Before(earliest) {
				earliest = t
			}
		}
		wait := min(max(earliest.Sub(c.o.Clock.Now()), 0), maxSleep)
		select {
		case <-c.stop:
			return
		case <-c.o.Clock.After(wait):
		}
		now := c.o.Clock.Now()
		for i, s := range c.scheds {
			if now.Before(next[i]) {
				continue
			}
			// Ticks missed while asleep collapse into one, as in cron-connector.
			c.fire(c.entries[i])
			next[i] = s.Next(now)
		}
	}
}

func (c *Cron) fire(e Scheduled) {
	log := c.o.Log.With().Str("function", e.Function).Str("schedule", e.Schedule).Logger()
	if _, code, _ := c.g.lookup(e.Function); code != 0 {
		log.Debug().Msg("scheduled function not served; tick skipped")
		return
	}
	// cron-connector posts an empty body.
	h := http.Header{"User-Agent": {"concierge-cron"}}
	if err := c.g.Async(context.Background(), e.Function, nil, h); err != nil {
		log.Warn().Err(err).Msg("scheduled invocation not queued")
		return
	}
	log.Debug().Msg("scheduled invocation queued")
}

// Close stops the scheduler; queued invocations are the gateway's to finish.
func (c *Cron) Close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}
