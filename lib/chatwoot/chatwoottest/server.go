// Package chatwoottest is a fake Chatwoot account API for tests, faithful to
// the contract (shared/contracts section 3) and to Chatwoot's controllers:
// api_access_token auth that tells user tokens from agent-bot tokens (bots
// get 401 "Access to this endpoint is not authorized for bots" outside the
// endpoints they may call), conversations addressed by display id (404 for
// unknown ones), contacts validated like Contact (E.164 phone, unique email,
// phone and identifier per account, 422 {message, attributes}), custom
// attributes merged on update, and the response shapes of each endpoint.
//
// It records every request (never the token) and what was posted —
// messages with their private flag and attachments, status toggles, label
// lists, typing on/off — and can be scripted to fail (429 with Retry-After,
// 500) before it answers.
//
// It does not import lib/chatwoot: its JSON is written from the contract,
// so a decoding mistake in the client shows up in tests.
package chatwoottest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenKind says who a token belongs to.
type TokenKind string

// Token kinds as recorded on requests.
const (
	User    TokenKind = "user"
	Bot     TokenKind = "agent_bot"
	Invalid TokenKind = "invalid" // a token the server does not know
	None    TokenKind = "none"    // no api_access_token header
)

// Error texts Chatwoot answers with.
const (
	ErrInvalidToken  = "Invalid Access Token"
	ErrBotNotAllowed = "Access to this endpoint is not authorized for bots"
	ErrNotFound      = "Resource could not be found"
	// DefaultVersion is the release a new fake plays: the one the platform
	// stack pins.
	DefaultVersion     = "4.14.2"
	ErrAccountDenied   = "You are not authorized to access this account"
	ErrPhoneFormat     = "Phone number should be in e164 format"
	ErrSearchWithoutQ  = "Specify search string with parameter q"
	contactsPerPage    = 15
	maxRequestBodySize = 40 << 20
)

// Conversation is a conversation the fake knows, by display id.
type Conversation struct {
	AccountID int64
	ID        int64 // display id
	InboxID   int64
	ContactID int64
	Status    string // open (default), resolved, pending, snoozed
	Labels    []string
}

// Contact is a contact of an account.
type Contact struct {
	AccountID            int64
	ID                   int64
	Name                 string
	Email                string
	PhoneNumber          string
	Identifier           string
	CustomAttributes     map[string]any
	AdditionalAttributes map[string]any
	InboxIDs             []int64
}

// File is an uploaded attachment.
type File struct {
	Name        string
	ContentType string
	Data        []byte
}

// Message is a message the fake stored: registered with AddMessage or
// posted through the API.
type Message struct {
	AccountID         int64
	ConversationID    int64
	ID                int64
	Content           string
	MessageType       string // incoming, outgoing, activity, template
	Private           bool
	ContentType       string
	ContentAttributes map[string]any
	Attachments       []File
	// SenderKind: contact, user or agent_bot; Posted marks messages that
	// came through the API (and which token posted them).
	SenderKind TokenKind
	Posted     bool
	CreatedAt  time.Time
}

// StatusChange is one toggle_status call that succeeded.
type StatusChange struct {
	AccountID, ConversationID int64
	From, To                  string
	ByBot                     bool
}

// Typing is one toggle_typing_status call.
type Typing struct {
	AccountID, ConversationID int64
	Status                    string // on, off, recording
	Private                   bool
}

// LabelSet is one label write (it replaces the list).
type LabelSet struct {
	AccountID, ConversationID int64
	Labels                    []string
}

// Request is a request as received. The token is not kept.
type Request struct {
	Method      string
	Path        string
	Query       url.Values
	Token       TokenKind
	ContentType string
	Body        []byte
	Status      int // what the fake answered
}

// Failure scripts error answers. A request that matches is answered with
// Status (before authentication, as Rack::Attack and a failing proxy do)
// until Times requests have failed.
type Failure struct {
	Method     string // "" matches any
	Path       string // substring of the path; "" matches any
	Status     int
	RetryAfter string // Retry-After header, e.g. "2"
	Body       string // default: Chatwoot's body for Status
	Times      int    // default 1
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	// UserToken and BotToken are accepted as an agent's and the agent
	// bot's api_access_token.
	UserToken, BotToken string
	// BotID and UserID are the senders of posted messages.
	BotID, UserID int64

	// Version is the release the fake plays (GET /api, and what a bot
	// token may call); DefaultVersion unless set before the first request.
	Version string
	// KeepPendingOnBotFailure is the account setting
	// keep_pending_on_bot_failure (see DeliverToBot).
	KeepPendingOnBotFailure bool
	// BotRetryWait is the wait between agent-bot webhook attempts
	// (Chatwoot: 3 s); tests shorten it.
	BotRetryWait time.Duration
	// WebhookTimeout is Chatwoot's WEBHOOK_TIMEOUT (default 5 s).
	WebhookTimeout time.Duration
	// AllowPrivateNetwork is SAFE_FETCH_ALLOW_PRIVATE_NETWORK (4.14.1+).
	// From 4.14.0 webhooks go through SafeFetch, which refuses private
	// and loopback addresses unless it is set; test rigs on loopback set
	// it, as an operator with an internal URL would have to.
	AllowPrivateNetwork bool
	// BeforeBotRetry, when set, runs before each retry of an agent-bot
	// webhook with the attempt about to be made (2 or 3).
	BeforeBotRetry func(attempt int)

	mu            sync.Mutex
	accounts      map[int64]bool
	inboxes       map[[2]int64]bool
	conversations map[[2]int64]*Conversation
	contacts      map[int64]*Contact // by id (ids are global, like Chatwoot's)
	messages      []*Message
	bots          []AgentBot
	statuses      []StatusChange
	typing        []Typing
	labels        []LabelSet
	requests      []Request
	failures      []*Failure
	nextID        int64
	// setup is what the platform and account-setup endpoints keep
	// (platform.go, setup.go).
	setup setupState
}

// New starts a fake with account 1 and stops it when the test ends.
func New(t testing.TB) *Server {
	s := NewServer()
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake with account 1; Close stops it.
func NewServer() *Server {
	s := &Server{
		UserToken: "cw-user-" + randomHex(), BotToken: "cw-bot-" + randomHex(),
		BotID: 2, UserID: 7, Version: DefaultVersion,
		BotRetryWait: 3 * time.Second, WebhookTimeout: 5 * time.Second,
		accounts:      map[int64]bool{1: true},
		inboxes:       map[[2]int64]bool{},
		conversations: map[[2]int64]*Conversation{},
		contacts:      map[int64]*Contact{},
		nextID:        50000,
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AddAccount makes an account known.
func (s *Server) AddAccount(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = true
}

// AddInbox makes an inbox of an account known (contacts may be created in
// it).
func (s *Server) AddInbox(account, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[account] = true
	s.inboxes[[2]int64{account, id}] = true
}

// AddConversation registers a conversation (and its account and inbox).
func (s *Server) AddConversation(c Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Status == "" {
		c.Status = "open"
	}
	c.Labels = slices.Clone(c.Labels)
	s.accounts[c.AccountID] = true
	if c.InboxID != 0 {
		s.inboxes[[2]int64{c.AccountID, c.InboxID}] = true
	}
	s.conversations[[2]int64{c.AccountID, c.ID}] = &c
}

// Conversation returns the state of a conversation.
func (s *Server) Conversation(account, id int64) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conversations[[2]int64{account, id}]
	if !ok {
		return Conversation{}, false
	}
	cp := *c
	cp.Labels = slices.Clone(c.Labels)
	return cp, true
}

// AddMessage stores a message as if a guest or agent had written it, and
// returns it with its id.
func (s *Server) AddMessage(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	if m.ID == 0 {
		m.ID = s.nextID
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	if m.MessageType == "" {
		m.MessageType = "incoming"
	}
	cp := m
	s.messages = append(s.messages, &cp)
	return m
}

// AddContact stores a contact without validation (to set up clashes) and
// returns it with its id.
func (s *Server) AddContact(c Contact) Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.AccountID == 0 {
		c.AccountID = 1
	}
	s.accounts[c.AccountID] = true
	s.nextID++
	if c.ID == 0 {
		c.ID = s.nextID
	}
	c.Email = strings.ToLower(c.Email)
	cp := c
	s.contacts[c.ID] = &cp
	return c
}

// Contacts returns an account's contacts by id.
func (s *Server) Contacts(account int64) []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Contact
	for _, c := range s.contacts {
		if c.AccountID == account {
			out = append(out, cloneContact(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func cloneContact(c *Contact) Contact {
	cp := *c
	cp.CustomAttributes = cloneMap(c.CustomAttributes)
	cp.AdditionalAttributes = cloneMap(c.AdditionalAttributes)
	cp.InboxIDs = slices.Clone(c.InboxIDs)
	return cp
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Messages returns a conversation's messages in order.
func (s *Server) Messages(account, conversation int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.AccountID == account && m.ConversationID == conversation {
			out = append(out, *m)
		}
	}
	return out
}

// Posted returns the messages posted through the API, in order.
func (s *Server) Posted() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Posted {
			out = append(out, *m)
		}
	}
	return out
}

// StatusChanges returns the successful toggle_status calls.
func (s *Server) StatusChanges() []StatusChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}

// TypingEvents returns the toggle_typing_status calls.
func (s *Server) TypingEvents() []Typing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.typing)
}

// LabelSets returns the label writes.
func (s *Server) LabelSets() []LabelSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.labels)
}

// Requests returns every request received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount counts requests with method (or any) whose path contains
// path.
func (s *Server) RequestCount(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.Contains(r.Path, path) {
			n++
		}
	}
	return n
}

// Fail scripts failures; they are used in the order added.
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.failures = append(s.failures, &f)
}

// Reset forgets the recorded requests and posts (not the data).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.statuses, s.typing, s.labels = nil, nil, nil, nil
}

// call is one request being served.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	token   TokenKind
	account int64
	params  map[string]any // JSON or form body merged over the query
	files   []File
	rec     *Request
}

func (c *call) json(status int, v any) {
	b, _ := json.Marshal(v)
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
	c.rec.Status = status
}

func (c *call) error(status int, msg string) { c.json(status, map[string]string{"error": msg}) }

// invalid answers like RequestExceptionHandler#render_record_invalid.
func (c *call) invalid(messages, attributes []string) {
	c.json(http.StatusUnprocessableEntity, map[string]any{"message": strings.Join(messages, ", "), "attributes": attributes})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBodySize))
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), ContentType: r.Header.Get("Content-Type"), Body: body}
	c := &call{w: w, r: r, rec: &rec}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}()

	if s.scriptedFailure(c) {
		return
	}
	switch tok := r.Header.Get("api_access_token"); {
	case tok == "":
		c.token = None
	case tok == s.UserToken:
		c.token = User
	case tok == s.BotToken:
		c.token = Bot
	default:
		c.token = s.issuedToken(tok)
	}
	rec.Token = c.token

	switch r.URL.Path {
	case "/api", "/api/":
		// ApiController#index: no authentication.
		c.json(http.StatusOK, map[string]any{"version": s.version(), "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05"),
			"queue_services": "ok", "data_services": "ok"})
		return
	case "/api/v1/profile":
		s.profile(c)
		return
	}
	if strings.HasPrefix(r.URL.Path, platformPrefix) {
		s.platform(c, body)
		return
	}
	if r.Method == http.MethodGet && (r.URL.Path == "/app" || strings.HasPrefix(r.URL.Path, "/app/")) {
		s.dashboard(c)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/accounts/")
	if !ok {
		http.NotFound(w, r)
		rec.Status = http.StatusNotFound
		return
	}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	acct, err := strconv.ParseInt(seg[0], 10, 64)
	if err != nil {
		http.NotFound(w, r)
		rec.Status = http.StatusNotFound
		return
	}
	c.account = acct
	route, action := s.route(r.Method, seg[1:])
	if len(seg) == 1 && route != nil {
		action = "accounts#show"
	}
	if route == nil {
		c.error(http.StatusNotFound, "no route matches "+r.Method+" "+r.URL.Path)
		return
	}
	// Api::V1::Accounts::BaseController: authenticate, then bots'
	// allow-list, then account membership.
	if c.token == None || c.token == Invalid {
		c.error(http.StatusUnauthorized, ErrInvalidToken)
		return
	}
	// A platform app's token is neither a user's nor a bot's.
	if c.token == Platform {
		c.error(http.StatusUnauthorized, ErrBotNotAllowed)
		return
	}
	if c.token == Bot && !botAllowed(s.version(), action) {
		c.error(http.StatusUnauthorized, ErrBotNotAllowed)
		return
	}
	s.mu.Lock()
	known := s.accounts[acct]
	s.mu.Unlock()
	if !known || !s.accountMember(c) {
		c.error(http.StatusUnauthorized, ErrAccountDenied)
		return
	}
	if err := c.parse(body); err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	route(c)
}

// botAllowed is AccessTokenAuthHelper::BOT_ACCESSIBLE_ENDPOINTS of the
// release the fake plays. 4.13.0: conversations toggle_status,
// toggle_typing_status, toggle_priority, create, update,
// custom_attributes; messages create; assignments create. 4.14.2 (PR
// #14655) adds conversations show and labels index and create.
func botAllowed(version, action string) bool {
	switch action {
	case "conversations#toggle_status", "conversations#toggle_typing_status", "conversations#toggle_priority",
		"conversations#create", "conversations#update", "conversations#custom_attributes",
		"messages#create", "assignments#create":
		return true
	case "conversations#show", "labels#index", "labels#create":
		return atLeast(version, 4, 14, 2)
	}
	return false
}

// atLeast compares a dotted release with major.minor.patch.
func atLeast(version string, want ...int) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	for i, w := range want {
		n := 0
		if i < len(parts) {
			n, _ = strconv.Atoi(parts[i])
		}
		if n != w {
			return n > w
		}
	}
	return true
}

func (s *Server) scriptedFailure(c *call) bool {
	s.mu.Lock()
	var f *Failure
	for i, x := range s.failures {
		if (x.Method == "" || x.Method == c.r.Method) && strings.Contains(c.r.URL.Path, x.Path) {
			f = x
			x.Times--
			if x.Times <= 0 {
				s.failures = append(s.failures[:i], s.failures[i+1:]...)
			}
			break
		}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.RetryAfter != "" {
		c.w.Header().Set("Retry-After", f.RetryAfter)
	}
	body, ctype := f.Body, "application/json; charset=utf-8"
	if body == "" {
		switch {
		case f.Status == http.StatusTooManyRequests:
			// Rack::Attack's throttled response.
			body, ctype = "Retry later\n", "text/plain"
		case f.Status >= 500:
			body = `{"status":` + strconv.Itoa(f.Status) + `,"error":"` + http.StatusText(f.Status) + `"}`
		default:
			body = `{"error":"` + http.StatusText(f.Status) + `"}`
		}
	}
	c.w.Header().Set("Content-Type", ctype)
	c.w.WriteHeader(f.Status)
	_, _ = io.WriteString(c.w, body)
	c.rec.Status = f.Status
	return true
}

// parse merges the query and a JSON or multipart body into params, as
// Rails does; a body of another type is not read.
func (c *call) parse(body []byte) error {
	c.params = map[string]any{}
	for k, v := range c.r.URL.Query() {
		c.params[strings.TrimSuffix(k, "[]")] = v[len(v)-1]
	}
	mt, mp, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	switch {
	case len(bytes.TrimSpace(body)) == 0:
	case mt == "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return fmt.Errorf("malformed JSON body: %v", err)
		}
		for k, v := range m {
			c.params[k] = v
		}
	case mt == "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), mp["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("malformed multipart body: %v", err)
			}
			data, _ := io.ReadAll(p)
			if p.FileName() != "" {
				if p.FormName() == "attachments[]" {
					c.files = append(c.files, File{Name: p.FileName(), ContentType: p.Header.Get("Content-Type"), Data: data})
				}
				continue
			}
			c.params[p.FormName()] = string(data)
		}
	}
	return nil
}

func (c *call) str(k string) string {
	switch v := c.params[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// bool reads a Rails boolean param ("true", "1", true).
func (c *call) bool(k string) bool {
	switch c.str(k) {
	case "true", "1", "t", "on":
		return true
	}
	return false
}

func (c *call) int(k string) int64 {
	n, _ := strconv.ParseInt(c.str(k), 10, 64)
	return n
}

type handler func(*call)

// route finds the handler of an account-scoped path and names its
// controller#action.
func (s *Server) route(method string, seg []string) (handler, string) {
	id := func(i int) int64 {
		n, err := strconv.ParseInt(seg[i], 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	switch {
	case len(seg) == 2 && seg[0] == "conversations" && method == http.MethodGet:
		return s.withConversation(id(1), s.showConversation), "conversations#show"
	case len(seg) == 1 && seg[0] == "conversations" && method == http.MethodPost:
		return s.createConversation, "conversations#create"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "toggle_priority" && method == http.MethodPost:
		return s.withConversation(id(1), s.togglePriority), "conversations#toggle_priority"
	case len(seg) == 3 && seg[0] == "contacts" && seg[2] == "conversations" && method == http.MethodGet:
		return s.withContact(id(1), s.contactConversations), "contacts/conversations#index"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "messages" && method == http.MethodPost:
		return s.withConversation(id(1), s.createMessage), "messages#create"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "messages" && method == http.MethodGet:
		return s.withConversation(id(1), s.listMessages), "messages#index"
	case len(seg) == 4 && seg[0] == "conversations" && seg[2] == "messages" && method == http.MethodDelete:
		return s.withConversation(id(1), s.deleteMessage(id(3))), "messages#destroy"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "toggle_status" && method == http.MethodPost:
		return s.withConversation(id(1), s.toggleStatus), "conversations#toggle_status"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "toggle_typing_status" && method == http.MethodPost:
		return s.withConversation(id(1), s.toggleTyping), "conversations#toggle_typing_status"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "labels" && method == http.MethodGet:
		return s.withConversation(id(1), s.getLabels), "labels#index"
	case len(seg) == 3 && seg[0] == "conversations" && seg[2] == "labels" && method == http.MethodPost:
		return s.withConversation(id(1), s.setLabels), "labels#create"
	case len(seg) == 0 && method == http.MethodGet:
		return s.showAccount, "accounts#show"
	case len(seg) == 1 && seg[0] == "agent_bots" && method == http.MethodGet:
		return s.listAgentBots, "agent_bots#index"
	case len(seg) == 2 && seg[0] == "inboxes" && method == http.MethodGet:
		return s.showInbox(id(1)), "inboxes#show"
	case len(seg) == 2 && seg[0] == "contacts" && seg[1] == "search" && method == http.MethodGet:
		return s.searchContacts, "contacts#search"
	case len(seg) == 1 && seg[0] == "contacts" && method == http.MethodPost:
		return s.createContact, "contacts#create"
	case len(seg) == 2 && seg[0] == "contacts" && method == http.MethodGet:
		return s.withContact(id(1), s.showContact), "contacts#show"
	case len(seg) == 2 && seg[0] == "contacts" && method == http.MethodDelete:
		return s.withContact(id(1), s.deleteContact), "contacts#destroy"
	case len(seg) == 2 && seg[0] == "contacts" && (method == http.MethodPut || method == http.MethodPatch):
		return s.withContact(id(1), s.updateContact), "contacts#update"
	}
	return s.routeSetup(method, seg)
}

// withConversation finds the conversation by display id
// (find_by!(display_id:)), 404 otherwise.
func (s *Server) withConversation(id int64, h func(*call, *Conversation)) handler {
	return func(c *call) {
		s.mu.Lock()
		conv := s.conversations[[2]int64{c.account, id}]
		s.mu.Unlock()
		if conv == nil {
			c.error(http.StatusNotFound, ErrNotFound)
			return
		}
		h(c, conv)
	}
}

func (s *Server) withContact(id int64, h func(*call, *Contact)) handler {
	return func(c *call) {
		s.mu.Lock()
		ct := s.contacts[id]
		s.mu.Unlock()
		if ct == nil || ct.AccountID != c.account {
			c.error(http.StatusNotFound, ErrNotFound)
			return
		}
		h(c, ct)
	}
}

func (s *Server) showConversation(c *call, conv *Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{
		"id": conv.ID, "account_id": conv.AccountID, "inbox_id": conv.InboxID, "status": conv.Status,
		"labels": nonNil(conv.Labels), "meta": map[string]any{"sender": map[string]any{"id": conv.ContactID, "type": "contact"}},
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var messageTypeNumbers = map[string]int{"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}

// pushData renders a message in the push format REST answers with.
func (s *Server) pushData(m *Message) map[string]any {
	var content any
	if m.Content != "" {
		content = m.Content
	}
	ca := m.ContentAttributes
	if ca == nil {
		ca = map[string]any{}
	}
	atts := []map[string]any{}
	for i, f := range m.Attachments {
		atts = append(atts, map[string]any{
			"id": m.ID*10 + int64(i), "message_id": m.ID, "file_type": fileType(f.ContentType), "account_id": m.AccountID,
			"extension": nil, "data_url": s.URL + "/rails/active_storage/blobs/redirect/" + url.PathEscape(f.Name),
			"thumb_url": "", "file_size": len(f.Data),
		})
	}
	var sender map[string]any
	senderType := ""
	switch m.SenderKind {
	case Bot:
		sender, senderType = map[string]any{"id": s.BotID, "name": "Concierge", "avatar_url": "", "type": "agent_bot"}, "AgentBot"
	case User:
		sender, senderType = map[string]any{"id": s.UserID, "name": "Agent", "type": "user"}, "User"
	case "contact":
		sender, senderType = map[string]any{"id": 57, "type": "contact"}, "Contact"
	}
	out := map[string]any{
		"id": m.ID, "content": content, "account_id": m.AccountID, "conversation_id": m.ConversationID,
		"message_type": messageTypeNumbers[m.MessageType], "created_at": m.CreatedAt.Unix(), "private": m.Private,
		"status": "sent", "source_id": nil, "content_type": m.ContentType, "content_attributes": ca,
		"sender_type": senderType, "sender": sender, "attachments": atts,
	}
	if len(atts) == 0 {
		delete(out, "attachments")
	}
	return out
}

func fileType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case strings.HasPrefix(mt, "image/"):
		return "image"
	case strings.HasPrefix(mt, "audio/"):
		return "audio"
	case strings.HasPrefix(mt, "video/"):
		return "video"
	}
	return "file"
}

// createMessage is Messages::MessageBuilder for the API: content (or
// attachments), message_type (outgoing by default), private.
func (s *Server) createMessage(c *call, conv *Conversation) {
	content := c.str("content")
	if strings.TrimSpace(content) == "" && len(c.files) == 0 {
		c.invalid([]string{"Content can't be blank"}, []string{"content"})
		return
	}
	mt := c.str("message_type")
	if mt == "" {
		mt = "outgoing"
	}
	if _, ok := messageTypeNumbers[mt]; !ok {
		c.json(http.StatusUnprocessableEntity, map[string]any{"error": "'" + mt + "' is not a valid message_type"})
		return
	}
	ct := c.str("content_type")
	if ct == "" {
		ct = "text"
	}
	attrs, _ := c.params["content_attributes"].(map[string]any)
	s.mu.Lock()
	s.nextID++
	m := &Message{
		AccountID: c.account, ConversationID: conv.ID, ID: s.nextID, Content: content, MessageType: mt,
		Private: c.bool("private"), ContentType: ct, ContentAttributes: attrs, Attachments: c.files,
		SenderKind: c.token, Posted: true, CreatedAt: time.Now().UTC(),
	}
	s.messages = append(s.messages, m)
	out := s.pushData(m)
	s.mu.Unlock()
	c.json(http.StatusOK, out)
}

// listMessages: after → up to 100 after the id, before → 20 before it,
// neither → the latest 20; oldest first.
func (s *Server) listMessages(c *call, conv *Conversation) {
	after, before := c.int("after"), c.int("before")
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*Message
	for _, m := range s.messages {
		if m.AccountID == c.account && m.ConversationID == conv.ID {
			all = append(all, m)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	var page []*Message
	switch {
	case after > 0:
		for _, m := range all {
			if m.ID > after && len(page) < 100 {
				page = append(page, m)
			}
		}
	default:
		var sel []*Message
		for _, m := range all {
			if before == 0 || m.ID < before {
				sel = append(sel, m)
			}
		}
		if len(sel) > 20 {
			sel = sel[len(sel)-20:]
		}
		page = sel
	}
	payload := []map[string]any{}
	for _, m := range page {
		payload = append(payload, s.pushData(m))
	}
	c.json(http.StatusOK, map[string]any{
		"meta":    map[string]any{"labels": nonNil(conv.Labels), "contact": map[string]any{"id": conv.ContactID}},
		"payload": payload,
	})
}

func (s *Server) toggleStatus(c *call, conv *Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := conv.Status
	to := c.str("status")
	switch to {
	case "open", "resolved", "pending", "snoozed":
	case "":
		// No status: toggle between open and resolved.
		to = "resolved"
		if from == "resolved" {
			to = "open"
		}
	default:
		c.json(http.StatusUnprocessableEntity, map[string]any{"error": "'" + to + "' is not a valid status"})
		return
	}
	conv.Status = to
	s.statuses = append(s.statuses, StatusChange{AccountID: c.account, ConversationID: conv.ID, From: from, To: to, ByBot: c.token == Bot})
	c.json(http.StatusOK, map[string]any{"meta": map[string]any{}, "payload": map[string]any{
		"success": true, "current_status": to, "conversation_id": conv.ID,
	}})
}

func (s *Server) toggleTyping(c *call, conv *Conversation) {
	st := c.str("typing_status")
	s.mu.Lock()
	if st == "on" || st == "off" || st == "recording" {
		s.typing = append(s.typing, Typing{AccountID: c.account, ConversationID: conv.ID, Status: st, Private: c.bool("is_private")})
	}
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusOK)
	c.rec.Status = http.StatusOK
}

func (s *Server) getLabels(c *call, conv *Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{"payload": nonNil(slices.Clone(conv.Labels))})
}

func (s *Server) setLabels(c *call, conv *Conversation) {
	var labels []string
	switch v := c.params["labels"].(type) {
	case []any:
		for _, x := range v {
			if l, ok := x.(string); ok && l != "" && !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
	case string:
		labels = strings.FieldsFunc(v, func(r rune) bool { return r == ',' })
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conv.Labels = labels
	s.labels = append(s.labels, LabelSet{AccountID: c.account, ConversationID: conv.ID, Labels: slices.Clone(labels)})
	c.json(http.StatusOK, map[string]any{"payload": nonNil(slices.Clone(labels))})
}

func (s *Server) contactJSON(ct *Contact) map[string]any {
	ca, aa := ct.CustomAttributes, ct.AdditionalAttributes
	if ca == nil {
		ca = map[string]any{}
	}
	if aa == nil {
		aa = map[string]any{}
	}
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	inboxes := []map[string]any{}
	for _, id := range ct.InboxIDs {
		inboxes = append(inboxes, map[string]any{"inbox": map[string]any{"id": id}, "source_id": randomHex()})
	}
	return map[string]any{
		"id": ct.ID, "name": ct.Name, "email": str(ct.Email), "phone_number": str(ct.PhoneNumber),
		"identifier": str(ct.Identifier), "custom_attributes": ca, "additional_attributes": aa,
		"availability_status": "offline", "blocked": false, "thumbnail": "", "contact_inboxes": inboxes,
		"created_at": time.Now().Unix(),
	}
}

var e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// validate runs Contact's validations for c against the account's other
// contacts; the caller holds s.mu.
func (s *Server) validate(c *Contact) (msgs, attrs []string) {
	if c.PhoneNumber != "" && !e164.MatchString(c.PhoneNumber) {
		msgs, attrs = append(msgs, ErrPhoneFormat), append(attrs, "phone_number")
	}
	taken := func(field, label string, same func(o *Contact) bool) {
		for _, o := range s.contacts {
			if o.ID != c.ID && o.AccountID == c.AccountID && same(o) {
				msgs, attrs = append(msgs, label+" has already been taken"), append(attrs, field)
				return
			}
		}
	}
	if c.Email != "" {
		taken("email", "Email", func(o *Contact) bool { return strings.EqualFold(o.Email, c.Email) })
	}
	if c.PhoneNumber != "" {
		taken("phone_number", "Phone number", func(o *Contact) bool { return o.PhoneNumber == c.PhoneNumber })
	}
	if c.Identifier != "" {
		taken("identifier", "Identifier", func(o *Contact) bool { return o.Identifier == c.Identifier })
	}
	return msgs, attrs
}

// apply copies the permitted params present in the request onto ct.
func (c *call) apply(ct *Contact, merge bool) {
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &ct.Name}, {"email", &ct.Email}, {"phone_number", &ct.PhoneNumber}, {"identifier", &ct.Identifier}} {
		if _, ok := c.params[f.key]; ok {
			*f.dst = c.str(f.key)
		}
	}
	ct.Email = strings.ToLower(strings.TrimSpace(ct.Email))
	for _, f := range []struct {
		key string
		dst *map[string]any
	}{{"custom_attributes", &ct.CustomAttributes}, {"additional_attributes", &ct.AdditionalAttributes}} {
		v, ok := c.params[f.key].(map[string]any)
		if !ok {
			continue
		}
		if !merge || *f.dst == nil {
			*f.dst = map[string]any{}
		}
		for k, x := range v {
			(*f.dst)[k] = x
		}
	}
}

func (s *Server) createContact(c *call) {
	inbox := c.int("inbox_id")
	ct := &Contact{AccountID: c.account}
	c.apply(ct, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if msgs, attrs := s.validate(ct); len(msgs) > 0 {
		c.invalid(msgs, attrs)
		return
	}
	if inbox != 0 && !s.inboxes[[2]int64{c.account, inbox}] {
		c.error(http.StatusNotFound, ErrNotFound)
		return
	}
	s.nextID++
	ct.ID = s.nextID
	var contactInbox any
	if inbox != 0 {
		ct.InboxIDs = []int64{inbox}
		contactInbox = map[string]any{"inbox": map[string]any{"id": inbox}, "source_id": randomHex()}
	} else {
		contactInbox = map[string]any{"inbox": nil, "source_id": nil}
	}
	s.contacts[ct.ID] = ct
	c.json(http.StatusOK, map[string]any{"payload": map[string]any{"contact": s.contactJSON(ct), "contact_inbox": contactInbox}})
}

func (s *Server) showContact(c *call, ct *Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{"payload": s.contactJSON(ct)})
}

func (s *Server) updateContact(c *call, ct *Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := cloneContact(ct)
	c.apply(&next, true)
	if msgs, attrs := s.validate(&next); len(msgs) > 0 {
		c.invalid(msgs, attrs)
		return
	}
	*ct = next
	c.json(http.StatusOK, map[string]any{"payload": s.contactJSON(ct)})
}

// searchContacts matches q as a substring of name, email or phone
// (ILIKE), of identifier (LIKE), or equal to the id when numeric.
func (s *Server) searchContacts(c *call) {
	q := strings.TrimSpace(c.str("q"))
	if q == "" {
		c.error(http.StatusUnprocessableEntity, ErrSearchWithoutQ)
		return
	}
	page := max(1, int(c.int("page")))
	lq := strings.ToLower(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*Contact
	for _, ct := range s.contacts {
		if ct.AccountID != c.account {
			continue
		}
		if strings.Contains(strings.ToLower(ct.Name), lq) || strings.Contains(ct.Email, lq) ||
			strings.Contains(strings.ToLower(ct.PhoneNumber), lq) || strings.Contains(ct.Identifier, q) ||
			strconv.FormatInt(ct.ID, 10) == q {
			found = append(found, ct)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
	from := (page - 1) * contactsPerPage
	payload := []map[string]any{}
	for i := from; i < len(found) && i < from+contactsPerPage; i++ {
		payload = append(payload, s.contactJSON(found[i]))
	}
	c.json(http.StatusOK, map[string]any{"meta": map[string]any{"count": len(payload), "current_page": page}, "payload": payload})
}

func (s *Server) version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Version
}

// SetVersion changes the release the fake plays.
func (s *Server) SetVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Version = v
}

// profile is Api::V1::ProfilesController#show: Api::BaseController
// authenticates the token, then refuses bots (profile is not in their
// endpoints), then shows the user.
func (s *Server) profile(c *call) {
	switch c.token {
	case None, Invalid:
		c.error(http.StatusUnauthorized, ErrInvalidToken)
	case Bot:
		c.error(http.StatusUnauthorized, ErrBotNotAllowed)
	default:
		s.mu.Lock()
		var accounts []map[string]any
		for id := range s.accounts {
			accounts = append(accounts, map[string]any{"id": id, "name": "Account " + strconv.FormatInt(id, 10), "role": "administrator"})
		}
		s.mu.Unlock()
		sort.Slice(accounts, func(i, j int) bool { return accounts[i]["id"].(int64) < accounts[j]["id"].(int64) })
		c.json(http.StatusOK, map[string]any{"id": s.UserID, "name": "Agent", "type": "User", "accounts": accounts})
	}
}

// showInbox is InboxesController#show (users only).
func (s *Server) showInbox(id int64) handler {
	return func(c *call) {
		if s.setupShowInbox(c, id) {
			return
		}
		s.mu.Lock()
		ok := s.inboxes[[2]int64{c.account, id}]
		s.mu.Unlock()
		if !ok {
			c.error(http.StatusNotFound, ErrNotFound)
			return
		}
		c.json(http.StatusOK, map[string]any{"id": id, "account_id": c.account, "name": "Inbox " + strconv.FormatInt(id, 10), "channel_type": "Channel::WebWidget"})
	}
}

// showAccount is Api::V1::AccountsController#show: the account with its
// settings (keep_pending_on_bot_failure among them).
func (s *Server) showAccount(c *call) {
	s.mu.Lock()
	keep := s.KeepPendingOnBotFailure
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{"id": c.account, "name": "Account " + strconv.FormatInt(c.account, 10), "locale": "en",
		"settings": map[string]any{"auto_resolve_after": nil, "keep_pending_on_bot_failure": keep}, "latest_chatwoot_version": s.version()})
}

// AgentBot is a bot the fake knows. AccountID 0 makes it a system bot
// (created in Super Admin without an account).
type AgentBot struct {
	ID          int64
	Name        string
	OutgoingURL string
	AccountID   int64
	Secret      string
}

// AddAgentBot registers a bot and returns it with its id.
func (s *Server) AddAgentBot(b AgentBot) AgentBot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	if b.ID == 0 {
		b.ID = s.nextID
	}
	s.bots = append(s.bots, b)
	return b
}

// listAgentBots is AgentBotsController#index: AgentBot.accessible_to the
// account (its own and the system bots), rendered by _agent_bot.json:
// a system bot's outgoing_url and secret are never shown; the secret only
// to administrators (the fake's user token is one).
func (s *Server) listAgentBots(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, b := range s.bots {
		system := b.AccountID == 0
		if !system && b.AccountID != c.account {
			continue
		}
		m := map[string]any{"id": b.ID, "name": b.Name, "bot_type": "webhook", "system_bot": system, "account_id": nil}
		if !system {
			m["account_id"] = b.AccountID
			m["outgoing_url"] = b.OutgoingURL
			m["secret"] = b.Secret
		}
		out = append(out, m)
	}
	c.json(http.StatusOK, out)
}
