// Package llmtest is a fake OpenAI-compatible chat endpoint for tests,
// faithful to what Groq answers (https://console.groq.com/docs): Bearer key
// auth (401 invalid_api_key), GET /models as {"object":"list","data":[...]},
// and POST /chat/completions answered per model — a listed model with its
// scripted replies, a decommissioned one with 400 model_decommissioned, any
// other with 404 model_not_found — plus the request checks Groq makes: JSON
// mode needs the word "json" in the messages, an assistant turn may not
// carry a reasoning property, and the parameters Groq does not support
// (messages[].name, logprobs, logit_bias, top_logprobs, n ≠ 1) are 400s.
//
// Replies are scripted per model (a queue, or a func) and may be errors:
// json_validate_failed with failed_generation, 429 with retry-after, 500.
// Every request is recorded (never the key).
//
// It does not import lib/llm: its JSON is written from the provider's
// documents and the errors quoted in public issue threads, so a decoding
// mistake in the client shows up in tests.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// BasePath is where the fake serves the API, as Groq does: a client's base
// URL is URL() (the server's root + BasePath).
const BasePath = "/openai/v1"

// Provider error codes and types, as Groq answers them.
const (
	CodeInvalidKey     = "invalid_api_key"
	CodeDecommissioned = "model_decommissioned"
	CodeModelNotFound  = "model_not_found"
	CodeJSONValidate   = "json_validate_failed"
	CodeRateLimit      = "rate_limit_exceeded"
	CodeUnknownURL     = "unknown_url"
	typeInvalidRequest = "invalid_request_error"
	maxBody            = 4 << 20
)

// Auth says how a request authenticated; the key itself is never kept.
type Auth string

// Auth outcomes.
const (
	AuthOK      Auth = "ok"
	AuthInvalid Auth = "invalid" // a Bearer key the server does not know
	AuthNone    Auth = "none"    // no Authorization: Bearer header
)

// Message is one chat turn of a recorded request.
type Message struct {
	Role    string
	Content string
}

// Request is a request as received.
type Request struct {
	Method string
	Path   string // under BasePath: /models, /chat/completions
	Auth   Auth
	Status int // what the fake answered
	// Chat requests only.
	Model          string
	Messages       []Message
	ResponseFormat string         // response_format.type, "" when absent
	Body           map[string]any // the decoded body
}

// Reply is one scripted answer to a chat completion.
type Reply struct {
	// Content is the assistant's text of a 200 answer.
	Content string
	// Reasoning goes in message.reasoning, where Groq puts a reasoning
	// model's thinking (openai/gpt-oss-*) apart from the content.
	Reasoning string
	// Status, when not 0 or 200, makes the reply an error answer with
	// Code, Type and Message in Groq's {"error":{...}} body.
	Status  int
	Code    string
	Type    string
	Message string
	// FailedGeneration goes in the error body (json_validate_failed).
	FailedGeneration string
	// RetryAfter is the retry-after header (429), e.g. "2".
	RetryAfter string
}

// Completion is a 200 answer whose assistant content is content.
func Completion(content string) Reply { return Reply{Content: content} }

// JSONValidateFailed is Groq's 400 when JSON mode could not make JSON of
// the model's output; generation is that output.
func JSONValidateFailed(generation string) Reply {
	return Reply{Status: http.StatusBadRequest, Code: CodeJSONValidate, Type: typeInvalidRequest,
		Message:          "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
		FailedGeneration: generation}
}

// RateLimited is Groq's 429 with a retry-after of retryAfter seconds.
func RateLimited(retryAfter string) Reply {
	return Reply{Status: http.StatusTooManyRequests, Code: CodeRateLimit, Type: "tokens", RetryAfter: retryAfter,
		Message: "Rate limit reached. Please try again in " + retryAfter + "s."}
}

// ServerError is a 5xx answer with status (500 when 0).
func ServerError(status int) Reply {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return Reply{Status: status, Type: "internal_server_error", Message: http.StatusText(status)}
}

// model is one model the fake serves.
type model struct {
	queue   []Reply
	handle  func(Request) Reply
	ownedBy string
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	// Key is the accepted Bearer key.
	Key string

	mu             sync.Mutex
	models         map[string]*model
	decommissioned map[string]bool
	requests       []Request
	seq            int
}

// New starts a fake accepting key and stops it when the test ends. It
// serves no model until AddModel.
func New(t testing.TB, key string) *Server {
	s := &Server{Key: key, models: map[string]*model{}, decommissioned: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL a client is configured with (LLM_BASE_URL).
func (s *Server) URL() string { return s.Server.URL + BasePath }

// AddModel lists id in GET /models and answers chat completions for it
// with replies, in order. When the queue is empty it answers with the
// func of Handle if one is set, else with a 500 that says the script ran
// out (the test then fails on what it asserts).
func (s *Server) AddModel(id string, replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.models[id]
	if m == nil {
		owner, _, _ := strings.Cut(id, "/")
		if owner == id {
			owner = "Groq"
		}
		m = &model{ownedBy: owner}
		s.models[id] = m
	}
	m.queue = append(m.queue, replies...)
	delete(s.decommissioned, id)
}

// Handle answers id's chat completions with f once its queue is empty
// (and lists id).
func (s *Server) Handle(id string, f func(Request) Reply) {
	s.AddModel(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models[id].handle = f
}

// Decommission retires id: no longer listed, and a chat completion with it
// is answered 400 model_decommissioned, as Groq does after a shutdown date.
func (s *Server) Decommission(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.models, id)
	s.decommissioned[id] = true
}

// Requests returns every request so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Chats returns the chat completion requests so far.
func (s *Server) Chats() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == "/chat/completions" {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, BasePath), Auth: s.auth(r)}
	status := s.answer(w, r, &rec)
	rec.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) auth(r *http.Request) Auth {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok || key == "":
		return AuthNone
	case key != s.Key:
		return AuthInvalid
	}
	return AuthOK
}

// answer writes the response and returns its status.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec *Request) int {
	route := r.Method + " " + rec.Path
	known := route == "GET /models" || route == "POST /chat/completions"
	if !strings.HasPrefix(r.URL.Path, BasePath+"/") || !known {
		return writeError(w, Reply{Status: http.StatusNotFound, Code: CodeUnknownURL, Type: typeInvalidRequest,
			Message: fmt.Sprintf("Unknown request URL: %s %s. Please check the URL for typos, or see the docs at https://console.groq.com/docs/", r.Method, r.URL.Path)})
	}
	if rec.Auth != AuthOK {
		return writeError(w, Reply{Status: http.StatusUnauthorized, Code: CodeInvalidKey, Type: typeInvalidRequest, Message: "Invalid API Key"})
	}
	if route == "GET /models" {
		return s.listModels(w)
	}
	return s.chat(w, r, rec)
}

func (s *Server) listModels(w http.ResponseWriter) int {
	s.mu.Lock()
	ids := make([]string, 0, len(s.models))
	for id := range s.models {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	data := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		data = append(data, map[string]any{"id": id, "object": "model", "created": 1754408224, "owned_by": s.models[id].ownedBy,
			"active": true, "context_window": 131072, "public_apps": nil, "max_completion_tokens": 65536})
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, rec *Request) int {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || json.Unmarshal(raw, &rec.Body) != nil {
		return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: "failed to decode the request body as JSON"})
	}
	rec.Model, _ = rec.Body["model"].(string)
	if rf, ok := rec.Body["response_format"].(map[string]any); ok {
		rec.ResponseFormat, _ = rf["type"].(string)
	}
	msgs, _ := rec.Body["messages"].([]any)
	mentionsJSON := false
	for i, m := range msgs {
		mm, _ := m.(map[string]any)
		role, _ := mm["role"].(string)
		content, _ := mm["content"].(string)
		rec.Messages = append(rec.Messages, Message{Role: role, Content: content})
		mentionsJSON = mentionsJSON || strings.Contains(strings.ToLower(content), "json")
		for _, p := range []string{"reasoning", "reasoning_content", "name"} {
			if _, has := mm[p]; has && (role == "assistant" || p == "name") {
				return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: fmt.Sprintf(
					"'messages.%d' : for 'role:%s' the following must be satisfied[('messages.%d' : property '%s' is unsupported)]", i, role, i, p)})
			}
		}
	}
	// Parameters Groq refuses (shared/contracts: console.groq.com/docs/openai).
	for _, p := range []string{"logprobs", "logit_bias", "top_logprobs"} {
		if v, has := rec.Body[p]; has && v != nil && v != false {
			return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: fmt.Sprintf("'%s' : is not supported", p)})
		}
	}
	if n, has := rec.Body["n"].(float64); has && n != 1 {
		return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: "'n' : number must be at most 1"})
	}
	switch {
	case rec.Model == "":
		return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: "'model' : property 'model' is missing"})
	case len(msgs) == 0:
		return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: "'messages' : minimum number of items is 1"})
	case rec.ResponseFormat == "json_object" && !mentionsJSON:
		return writeError(w, Reply{Status: http.StatusBadRequest, Type: typeInvalidRequest,
			Message: "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."})
	}
	reply, ok := s.next(rec)
	if !ok {
		return writeError(w, reply)
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		if reply.RetryAfter != "" {
			w.Header().Set("Retry-After", reply.RetryAfter)
		}
		return writeError(w, reply)
	}
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	msg := map[string]any{"role": "assistant", "content": reply.Content}
	if reply.Reasoning != "" {
		msg["reasoning"] = reply.Reasoning
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("chatcmpl-%06d", n), "object": "chat.completion", "created": 1754408224, "model": rec.Model,
		"choices":            []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": "stop"}},
		"usage":              map[string]any{"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
		"system_fingerprint": "fp_fake", "x_groq": map[string]any{"id": fmt.Sprintf("req_%06d", n)},
	})
}

// next is the model's reply to rec; ok is false for an unserved model,
// whose error reply it returns.
func (s *Server) next(rec *Request) (Reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.decommissioned[rec.Model] {
		return Reply{Status: http.StatusBadRequest, Code: CodeDecommissioned, Type: typeInvalidRequest, Message: fmt.Sprintf(
			"The model `%s` has been decommissioned and is no longer supported. Please refer to https://console.groq.com/docs/deprecations for a recommendation on which model to use instead.", rec.Model)}, false
	}
	m := s.models[rec.Model]
	if m == nil {
		return Reply{Status: http.StatusNotFound, Code: CodeModelNotFound, Type: typeInvalidRequest,
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", rec.Model)}, false
	}
	if len(m.queue) > 0 {
		r := m.queue[0]
		m.queue = m.queue[1:]
		return r, true
	}
	if m.handle != nil {
		h := m.handle
		s.mu.Unlock()
		r := h(*rec)
		s.mu.Lock()
		return r, true
	}
	return Reply{Status: http.StatusInternalServerError, Type: "internal_server_error",
		Message: "llmtest: no scripted reply left for " + rec.Model}, true
}

func writeError(w http.ResponseWriter, r Reply) int {
	e := map[string]any{"message": r.Message, "type": r.Type}
	if r.Code != "" {
		e["code"] = r.Code
	}
	if r.FailedGeneration != "" || r.Code == CodeJSONValidate {
		e["failed_generation"] = r.FailedGeneration
	}
	return writeJSON(w, r.Status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}
