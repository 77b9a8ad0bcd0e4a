package chatwoottest

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The Platform API (/platform/api/v1) as Chatwoot 4.14.2 serves it
// (config/routes.rb; PlatformController and Platform::Api::V1::*): a
// platform app's access token in api_access_token; any other token, or
// none, is 401 {"error":"Invalid access_token"}. An app sees only what it
// created (PlatformAppPermissible): another account or user is 401
// {"error":"Non permissible resource"}, an unknown id 404 (set_resource
// runs first). A platform token on the account API is refused like a bot's
// (AccessTokenAuthHelper#validate_bot_access_token!: the owner is neither a
// User nor an AgentBot).

// Platform is the kind of a platform app's token.
const Platform TokenKind = "platform_app"

// Error texts of the Platform API.
const (
	ErrPlatformToken     = "Invalid access_token"
	ErrNonPermissible    = "Non permissible resource"
	ErrNotAuthorizedTo   = "You are not authorized to do this action"
	platformPrefix       = "/platform/api/v1/"
	defaultWidgetColor   = "#1f93ff"
	inboundEmailFakeHost = "inbound.chatwoot.test"
)

// SetupUser is a user the fake knows beyond the built-in agent: created
// through the Platform API or invited as an agent.
type SetupUser struct {
	ID          int64
	Name        string
	Email       string
	AccessToken string
	Confirmed   bool
}

// AccountUser is a user's membership of an account (AccountUser: role
// agent or administrator; custom roles are Enterprise).
type AccountUser struct {
	AccountID, UserID int64
	Role              string
}

// setupState is what the setup endpoints keep; the caller holds s.mu and
// calls st() to reach it.
type setupState struct {
	apps         map[string]int64          // platform token -> app id
	permits      map[int64]map[string]bool // app id -> "Account:1", "User:5"
	users        map[int64]*SetupUser
	tokens       map[string]tokenOwner // issued user and bot tokens
	accountNames map[int64]string
	accountUsers map[[2]int64]string // {account, user} -> role
	inboxes      map[int64]*Inbox
	inboxBot     map[int64]int64
	inboxMembers map[int64][]int64
	labels       []*Label
	attrs        []*AttributeDefinition
	teams        []*Team
	teamMembers  map[int64][]int64
	botTokens    map[int64]string
	botDesc      map[int64]string
	branding     map[string]any
	nextApp      int64
}

type tokenOwner struct {
	kind TokenKind
	id   int64
}

func (s *Server) st() *setupState {
	if s.setup.apps == nil {
		s.setup = setupState{
			apps: map[string]int64{}, permits: map[int64]map[string]bool{}, users: map[int64]*SetupUser{},
			tokens: map[string]tokenOwner{}, accountNames: map[int64]string{}, accountUsers: map[[2]int64]string{},
			inboxes: map[int64]*Inbox{}, inboxBot: map[int64]int64{}, inboxMembers: map[int64][]int64{},
			teamMembers: map[int64][]int64{}, botTokens: map[int64]string{}, botDesc: map[int64]string{},
			branding: defaultBranding(),
		}
	}
	return &s.setup
}

// AddPlatformApp creates a platform app (Super Admin > Platform Apps, or
// PlatformApp.create! in the Rails console) and returns its access token.
func (s *Server) AddPlatformApp() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st()
	st.nextApp++
	tok := "cw-platform-" + randomHex()
	st.apps[tok] = st.nextApp
	st.permits[st.nextApp] = map[string]bool{}
	return tok
}

// PermitAccount lets a platform app manage an account it did not create
// (PlatformAppPermissible.create! in the Rails console).
func (s *Server) PermitAccount(platformToken string, account int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st()
	if app, ok := st.apps[platformToken]; ok {
		st.permits[app]["Account:"+strconv.FormatInt(account, 10)] = true
	}
}

// AccountName is the name of an account (those the fake starts with are
// "Account N").
func (s *Server) AccountName(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountName(id)
}

func (s *Server) accountName(id int64) string {
	if n, ok := s.st().accountNames[id]; ok {
		return n
	}
	return "Account " + strconv.FormatInt(id, 10)
}

// AccountUsers returns an account's memberships, by user id.
func (s *Server) AccountUsers(account int64) []AccountUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AccountUser
	for k, role := range s.st().accountUsers {
		if k[0] == account {
			out = append(out, AccountUser{AccountID: k[0], UserID: k[1], Role: role})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// Users returns the users created through the Platform API or as agents.
func (s *Server) Users() []SetupUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SetupUser
	for _, u := range s.st().users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Writes returns the requests that could change something (every method
// but GET and HEAD), answered or refused.
func (s *Server) Writes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r)
		}
	}
	return out
}

// issuedToken tells the kind of a token the fake issued (platform apps,
// users, agent bots); the caller does not hold s.mu.
func (s *Server) issuedToken(tok string) TokenKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st()
	if _, ok := st.apps[tok]; ok {
		return Platform
	}
	if o, ok := st.tokens[tok]; ok {
		return o.kind
	}
	return Invalid
}

// accountMember is EnsureCurrentAccountHelper#account_accessible_for_user?
// for users the fake issued (the built-in user token administers every
// account) and account_accessible_for_bot? for bots it issued.
func (s *Server) accountMember(c *call) bool {
	tok := c.r.Header.Get("api_access_token")
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st()
	o, ok := st.tokens[tok]
	if !ok {
		return true
	}
	switch o.kind {
	case User:
		_, member := st.accountUsers[[2]int64{c.account, o.id}]
		return member
	case Bot:
		for _, b := range s.bots {
			if b.ID == o.id {
				return b.AccountID == c.account || b.AccountID == 0
			}
		}
	}
	return false
}

// role is the caller's role in the call's account: administrator for the
// built-in user token, the membership's for an issued user; the caller
// holds s.mu.
func (s *Server) role(c *call) (userID int64, role string) {
	tok := c.r.Header.Get("api_access_token")
	if tok == s.UserToken {
		return s.UserID, "administrator"
	}
	st := s.st()
	if o, ok := st.tokens[tok]; ok && o.kind == User {
		return o.id, st.accountUsers[[2]int64{c.account, o.id}]
	}
	return 0, ""
}

// admin answers Pundit's 401 unless the caller administers the account;
// the caller holds s.mu.
func (s *Server) admin(c *call) bool {
	if _, role := s.role(c); role == "administrator" {
		return true
	}
	c.error(http.StatusUnauthorized, ErrNotAuthorizedTo)
	return false
}

// platform serves /platform/api/v1/...
func (s *Server) platform(c *call, body []byte) {
	tok := c.r.Header.Get("api_access_token")
	s.mu.Lock()
	app, ok := s.st().apps[tok]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusUnauthorized, ErrPlatformToken)
		return
	}
	c.token = Platform
	c.rec.Token = Platform
	if err := c.parse(body); err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	seg := strings.Split(strings.Trim(strings.TrimPrefix(c.r.URL.Path, platformPrefix), "/"), "/")
	id := func(i int) int64 {
		if i >= len(seg) {
			return -1
		}
		n, err := strconv.ParseInt(seg[i], 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	m := c.r.Method
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(seg) == 1 && seg[0] == "accounts" && m == http.MethodGet:
		s.platformAccounts(c, app)
	case len(seg) == 1 && seg[0] == "accounts" && m == http.MethodPost:
		s.platformCreateAccount(c, app)
	case len(seg) == 2 && seg[0] == "accounts" && (m == http.MethodGet || m == http.MethodPatch || m == http.MethodPut):
		if s.permitted(c, app, "Account", id(1), s.accounts[id(1)]) {
			if m != http.MethodGet {
				if n := c.str("name"); n != "" {
					s.st().accountNames[id(1)] = n
				}
			}
			c.json(http.StatusOK, s.platformAccountJSON(id(1)))
		}
	case len(seg) == 3 && seg[0] == "accounts" && seg[2] == "account_users" && m == http.MethodGet:
		if s.permitted(c, app, "Account", id(1), s.accounts[id(1)]) {
			s.platformAccountUsers(c, id(1))
		}
	case len(seg) == 3 && seg[0] == "accounts" && seg[2] == "account_users" && m == http.MethodPost:
		if s.permitted(c, app, "Account", id(1), s.accounts[id(1)]) {
			s.platformAddAccountUser(c, id(1))
		}
	case len(seg) == 1 && seg[0] == "users" && m == http.MethodPost:
		s.platformCreateUser(c, app)
	case len(seg) == 2 && seg[0] == "users" && m == http.MethodGet:
		if s.permitted(c, app, "User", id(1), s.st().users[id(1)] != nil) {
			c.json(http.StatusOK, s.platformUserJSON(s.st().users[id(1)]))
		}
	default:
		c.json(http.StatusNotFound, map[string]any{"status": 404, "error": "Not Found"})
	}
}

// permitted is set_resource (404 for an unknown id: RecordNotFound) then
// validate_platform_app_permissible (401).
func (s *Server) permitted(c *call, app int64, kind string, id int64, exists bool) bool {
	if !exists {
		c.json(http.StatusNotFound, map[string]any{"status": 404, "error": "Not Found"})
		return false
	}
	if !s.st().permits[app][kind+":"+strconv.FormatInt(id, 10)] {
		c.error(http.StatusUnauthorized, ErrNonPermissible)
		return false
	}
	return true
}

func (s *Server) platformAccountJSON(id int64) map[string]any {
	return map[string]any{"id": id, "name": s.accountName(id), "locale": "en", "domain": nil, "support_email": nil,
		"features": map[string]any{}, "custom_attributes": map[string]any{}, "limits": map[string]any{}, "status": "active"}
}

// platformAccounts is AccountsController#index: the app's own accounts.
func (s *Server) platformAccounts(c *call, app int64) {
	var ids []int64
	for k := range s.st().permits[app] {
		if rest, ok := strings.CutPrefix(k, "Account:"); ok {
			n, _ := strconv.ParseInt(rest, 10, 64)
			if s.accounts[n] {
				ids = append(ids, n)
			}
		}
	}
	slices.Sort(ids)
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, s.platformAccountJSON(id))
	}
	c.json(http.StatusOK, out)
}

// platformCreateAccount is AccountsController#create: Account.create!
// (name required), then the app may manage it.
func (s *Server) platformCreateAccount(c *call, app int64) {
	name := strings.TrimSpace(c.str("name"))
	if name == "" {
		c.invalid([]string{"Name can't be blank"}, []string{"name"})
		return
	}
	var id int64
	for a := range s.accounts {
		id = max(id, a)
	}
	id++
	s.accounts[id] = true
	s.st().accountNames[id] = name
	s.st().permits[app]["Account:"+strconv.FormatInt(id, 10)] = true
	c.json(http.StatusOK, s.platformAccountJSON(id))
}

func accountUserJSON(account, user int64, role string) map[string]any {
	return map[string]any{"account_id": account, "user_id": user, "role": role, "inviter_id": nil,
		"availability": "online", "auto_offline": true, "custom_role_id": nil}
}

// platformAccountUsers is AccountUsersController#index:
// render json: @resource.account_users.
func (s *Server) platformAccountUsers(c *call, account int64) {
	out := []map[string]any{}
	var keys [][2]int64
	for k := range s.st().accountUsers {
		if k[0] == account {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][1] < keys[j][1] })
	for _, k := range keys {
		out = append(out, accountUserJSON(k[0], k[1], s.st().accountUsers[k]))
	}
	c.json(http.StatusOK, out)
}

// platformAddAccountUser is AccountUsersController#create:
// find_or_initialize_by(user_id).update!(user_id, role). The user need not
// be the app's; it must exist (belongs_to :user).
func (s *Server) platformAddAccountUser(c *call, account int64) {
	user := c.int("user_id")
	if s.st().users[user] == nil && user != s.UserID {
		c.invalid([]string{"User must exist"}, []string{"user"})
		return
	}
	role := c.str("role")
	key := [2]int64{account, user}
	cur, exists := s.st().accountUsers[key]
	switch role {
	case "":
		role = cur
		if !exists {
			role = "agent"
		}
	case "agent", "administrator":
	default:
		// An unknown enum value raises ArgumentError: a 500 in production.
		c.json(http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
		return
	}
	s.st().accountUsers[key] = role
	c.json(http.StatusOK, accountUserJSON(account, user, role))
}

// platformCreateUser is UsersController#create: User.from_email(email) ||
// User.new(params), skip_confirmation!, save!; the app may manage it.
func (s *Server) platformCreateUser(c *call, app int64) {
	email := strings.ToLower(strings.TrimSpace(c.str("email")))
	st := s.st()
	var u *SetupUser
	for _, x := range st.users {
		if x.Email == email && email != "" {
			u = x
		}
	}
	if u == nil {
		var msgs, attrs []string
		if strings.TrimSpace(c.str("name")) == "" {
			msgs, attrs = append(msgs, "Name can't be blank"), append(attrs, "name")
		}
		if email == "" || !strings.Contains(email, "@") {
			msgs, attrs = append(msgs, "Email is invalid"), append(attrs, "email")
		}
		if m := passwordProblem(c.str("password")); m != "" {
			msgs, attrs = append(msgs, m), append(attrs, "password")
		}
		if len(msgs) > 0 {
			c.invalid(msgs, attrs)
			return
		}
		s.nextID++
		u = &SetupUser{ID: s.nextID, Name: c.str("name"), Email: email, AccessToken: "cw-user-" + randomHex(), Confirmed: true}
		st.users[u.ID] = u
		st.tokens[u.AccessToken] = tokenOwner{kind: User, id: u.ID}
	}
	u.Confirmed = true
	st.permits[app]["User:"+strconv.FormatInt(u.ID, 10)] = true
	c.json(http.StatusOK, s.platformUserJSON(u))
}

// passwordProblem is Devise's validatable (6 to 128 characters) and
// devise-secure_password's required content (an upper-case and a
// lower-case letter, a digit, a special character).
func passwordProblem(p string) string {
	if len(p) < 6 || len(p) > 128 {
		return "Password is too short (minimum is 6 characters)"
	}
	var up, low, digit, special bool
	for _, r := range p {
		switch {
		case unicode.IsUpper(r):
			up = true
		case unicode.IsLower(r):
			low = true
		case unicode.IsDigit(r):
			digit = true
		default:
			special = true
		}
	}
	if !up || !low || !digit || !special {
		return "Password must contain at least 1 special character, 1 uppercase letter, 1 lowercase letter and 1 digit"
	}
	return ""
}

// platformUserJSON is platform/api/v1/models/_user.json.jbuilder.
func (s *Server) platformUserJSON(u *SetupUser) map[string]any {
	accounts := []map[string]any{}
	var keys [][2]int64
	for k := range s.st().accountUsers {
		if k[1] == u.ID {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0] < keys[j][0] })
	for _, k := range keys {
		accounts = append(accounts, map[string]any{"id": k[0], "name": s.accountName(k[0]), "role": s.st().accountUsers[k]})
	}
	return map[string]any{"access_token": u.AccessToken, "id": u.ID, "name": u.Name, "display_name": nil, "email": u.Email,
		"available_name": u.Name, "confirmed": u.Confirmed, "provider": "email", "uid": u.Email, "accounts": accounts}
}
