package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
)

// controlPrefix is where the rehearsal drives the fake; the functions
// never call it (Chatwoot has no such path).
const controlPrefix = "/_rehearsal/"

// maxBlobBytes bounds an uploaded voice note.
const maxBlobBytes = 8 << 20

// chatwoot serves the project's fake Chatwoot (lib/chatwoot/chatwoottest)
// on a Swarm network, as the service chatwoot_web the functions reach by
// CHATWOOT_URL, with a control API under /_rehearsal/ for the rehearsal:
//
//	POST /_rehearsal/conversations {"id":N,"inbox_id":1,"contact_id":57,"status":"pending"}
//	POST /_rehearsal/deliver {"url":..., "secret":..., "conversation_id":N, "payload":{...}}
//	     plays Chatwoot's agent-bot webhook (signed, retried on 429/500) and answers the outcome
//	PUT  /_rehearsal/blobs/NAME   a file served at /rails/active_storage/blobs/redirect/NAME
//	GET  /_rehearsal/posted       the messages posted through the API, contacts, status changes
//
// The fake answers on a loopback port inside the container; this process
// listens on -listen and forwards everything else to it.
func chatwoot(args []string) error {
	fs := flag.NewFlagSet("chatwoot", flag.ExitOnError)
	listen := fs.String("listen", ":3000", "address to serve on")
	_ = fs.Parse(args)
	// Tokens from the environment (the service's), so they are not in the
	// task's command line.
	cw := chatwoottest.NewServer()
	defer cw.Close()
	if v := os.Getenv("FAKE_CHATWOOT_BOT_TOKEN"); v != "" {
		cw.BotToken = v
	}
	if v := os.Getenv("FAKE_CHATWOOT_USER_TOKEN"); v != "" {
		cw.UserToken = v
	}
	// The agent bot's URL is the gateway on the functions network, a
	// private address that Chatwoot 4.14's SafeFetch refuses unless allowed.
	cw.AllowPrivateNetwork = true
	cw.AddInbox(1, 1)
	// As docs/deploy.md has the operator set it: a failed bot webhook
	// leaves the conversation pending for the bot.
	cw.KeepPendingOnBotFailure = os.Getenv("FAKE_CHATWOOT_KEEP_PENDING") != "false"
	// The account's agent bot as an operator creates it (docs/deploy.md),
	// for concierge doctor's bot check.
	if u := os.Getenv("FAKE_CHATWOOT_BOT_URL"); u != "" {
		cw.AddAgentBot(chatwoottest.AgentBot{Name: "Concierge", AccountID: 1, OutgoingURL: u, Secret: os.Getenv("FAKE_CHATWOOT_WEBHOOK_SECRET")})
	}
	upstream, err := url.Parse(cw.URL)
	if err != nil {
		return err
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var mu sync.Mutex
	blobs := map[string][]byte{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+controlPrefix+"conversations", func(w http.ResponseWriter, r *http.Request) {
		var c struct {
			ID        int64  `json:"id"`
			InboxID   int64  `json:"inbox_id"`
			ContactID int64  `json:"contact_id"`
			Status    string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil || c.ID == 0 {
			http.Error(w, "want {id, inbox_id, contact_id, status}", http.StatusBadRequest)
			return
		}
		cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: c.ID, InboxID: c.InboxID, ContactID: c.ContactID, Status: c.Status})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+controlPrefix+"deliver", func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			URL            string          `json:"url"`
			Secret         string          `json:"secret"`
			ConversationID int64           `json:"conversation_id"`
			Payload        json.RawMessage `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.URL == "" {
			http.Error(w, "want {url, secret, conversation_id, payload}", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		out := cw.DeliverToBot(ctx, chatwoottest.BotDelivery{URL: d.URL, Secret: d.Secret, Payload: d.Payload,
			AccountID: 1, ConversationID: d.ConversationID})
		writeJSON(w, out)
	})
	mux.HandleFunc("PUT "+controlPrefix+"blobs/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBlobBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		blobs[r.PathValue("name")] = b
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+controlPrefix+"posted", func(w http.ResponseWriter, _ *http.Request) {
		type file struct {
			Name        string `json:"name"`
			ContentType string `json:"content_type"`
			Bytes       int    `json:"bytes"`
			Magic       string `json:"magic"`
		}
		type message struct {
			ConversationID int64  `json:"conversation_id"`
			MessageType    string `json:"message_type"`
			Private        bool   `json:"private"`
			Sender         string `json:"sender"`
			Content        string `json:"content"`
			Attachments    []file `json:"attachments"`
		}
		var out struct {
			Messages []message                   `json:"messages"`
			Contacts int                         `json:"contacts"`
			Statuses []chatwoottest.StatusChange `json:"statuses"`
		}
		for _, m := range cw.Posted() {
			mm := message{ConversationID: m.ConversationID, MessageType: m.MessageType, Private: m.Private,
				Sender: string(m.SenderKind), Content: m.Content, Attachments: []file{}}
			for _, f := range m.Attachments {
				magic := f.Data[:min(4, len(f.Data))]
				mm.Attachments = append(mm.Attachments, file{Name: f.Name, ContentType: f.ContentType, Bytes: len(f.Data), Magic: string(magic)})
			}
			out.Messages = append(out.Messages, mm)
		}
		out.Contacts = len(cw.Contacts(1))
		out.Statuses = cw.StatusChanges()
		writeJSON(w, out)
	})
	// ActiveStorage: a voice message's data_url redirects to the blob.
	mux.HandleFunc("GET /rails/active_storage/blobs/redirect/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/rails/active_storage/disk/"+r.PathValue("name"), http.StatusFound)
	})
	mux.HandleFunc("GET /rails/active_storage/disk/{name}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, ok := blobs[r.PathValue("name")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/ogg")
		_, _ = w.Write(b)
	})
	mux.Handle("/", proxy)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "fake Chatwoot %s on %s (control under %s)\n", chatwoottest.DefaultVersion, *listen, controlPrefix)
	return srv.ListenAndServe()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// botevent prints a Chatwoot message_created event for the agent bot: the
// contract's fixture (text or voice) as a new message of its guest in
// conversation -conversation, as cmd/concierge's dev ask builds it.
func botevent(args []string) error {
	fs := flag.NewFlagSet("botevent", flag.ExitOnError)
	fixture := fs.String("fixture", "", "message_created.incoming.json or message_created.audio.json")
	conv := fs.Int64("conversation", 0, "the conversation's display id")
	msg := fs.Int64("message", 0, "the message id")
	content := fs.String("content", "", "the text (text fixture)")
	audio := fs.String("audio", "", "the attachment's data_url (voice fixture)")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(*fixture)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	m["id"], m["created_at"] = *msg, time.Now().UTC().Format(time.RFC3339Nano)
	if *content != "" {
		m["content"] = *content
	}
	if *audio != "" {
		atts, _ := m["attachments"].([]any)
		if len(atts) == 0 {
			return fmt.Errorf("%s has no attachment for -audio", *fixture)
		}
		for _, a := range atts {
			a.(map[string]any)["data_url"] = *audio
			a.(map[string]any)["message_id"] = *msg
		}
	}
	c, ok := m["conversation"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s has no conversation", *fixture)
	}
	c["id"] = *conv
	c["messages"] = []any{}
	return json.NewEncoder(os.Stdout).Encode(m)
}
