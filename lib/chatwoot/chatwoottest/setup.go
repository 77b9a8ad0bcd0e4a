package chatwoottest

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The account endpoints that set an account up, as Chatwoot 4.14.2 has
// them (config/routes.rb; Api::V1::Accounts::{Inboxes, InboxMembers,
// AgentBots, Labels, CustomAttributeDefinitions, Teams, TeamMembers,
// Agents}Controller; their policies, models and jbuilder views): writes
// are for administrators (Pundit: 401 "You are not authorized to do this
// action" for an agent), bots may call none of them, names and titles are
// validated and unique as the models say (422 {message, attributes}), and
// the views show an administrator the secrets (a widget's hmac_token, an
// email channel's passwords, a bot's secret) and hide them from agents.
//
// Labels, teams and custom attribute definitions take their fields nested
// ({"label": {...}}) or flat: ParamsWrapper wraps a JSON body's model
// attributes under the controller's name.
//
// Not played: the live IMAP and SMTP login Chatwoot tries when an email
// channel with imap_enabled or smtp_enabled is updated (422 with the
// server's error); the invitation e-mail of a new agent; avatars.

// Inbox is an inbox created through the API.
type Inbox struct {
	ID, AccountID int64
	Name          string
	// ChannelType: Channel::WebWidget, Channel::Email or Channel::Api.
	ChannelType string
	// Channel holds the channel's columns (hmac_mandatory, website_url,
	// imap_address, ...), typed as the database casts them.
	Channel map[string]any
}

// Label is an account's label.
type Label struct {
	ID, AccountID int64
	Title         string
	Description   string
	Color         string
	ShowOnSidebar bool
}

// AttributeDefinition is a custom attribute definition.
type AttributeDefinition struct {
	ID, AccountID int64
	Key           string
	DisplayName   string
	DisplayType   string // text, number, currency, percent, link, date, list, checkbox
	Description   string
	Model         string // conversation_attribute, contact_attribute, company_attribute
	Values        []string
	RegexPattern  string
	RegexCue      string
}

// Team is an account's team.
type Team struct {
	ID, AccountID   int64
	Name            string
	Description     string
	AllowAutoAssign bool
}

// channelAttrs are each channel's EDITABLE_ATTRS with the database type of
// each column; anything else in "channel" is dropped (strong parameters).
var channelAttrs = map[string]map[string]string{
	"Channel::WebWidget": {
		"website_url": "string", "widget_color": "string", "welcome_title": "string", "welcome_tagline": "string",
		"reply_time": "reply_time", "pre_chat_form_enabled": "bool", "continuity_via_email": "bool", "hmac_mandatory": "bool",
		"allowed_domains": "string",
	},
	"Channel::Api": {"webhook_url": "string", "hmac_mandatory": "bool", "additional_attributes": "map"},
	"Channel::Email": {
		"email": "string", "imap_enabled": "bool", "imap_login": "string", "imap_password": "string", "imap_address": "string",
		"imap_port": "int", "imap_enable_ssl": "bool", "imap_authentication": "string", "smtp_enabled": "bool",
		"smtp_login": "string", "smtp_password": "string", "smtp_address": "string", "smtp_port": "int", "smtp_domain": "string",
		"smtp_enable_starttls_auto": "bool", "smtp_enable_ssl_tls": "bool", "smtp_openssl_verify_mode": "string",
		"smtp_authentication": "string", "provider": "string", "verified_for_sending": "bool",
	},
}

// channelTypes maps InboxesController#channel_type_from_params.
var channelTypes = map[string]string{"web_widget": "Channel::WebWidget", "api": "Channel::Api", "email": "Channel::Email"}

// channelDefaults are the columns' defaults (db/schema.rb).
func channelDefaults(ct string) map[string]any {
	switch ct {
	case "Channel::WebWidget":
		return map[string]any{"website_url": "", "widget_color": defaultWidgetColor, "welcome_title": nil, "welcome_tagline": nil,
			"reply_time": "in_a_few_minutes", "pre_chat_form_enabled": false, "continuity_via_email": true, "hmac_mandatory": false,
			"allowed_domains": "", "hmac_token": randomHex(), "website_token": randomHex()}
	case "Channel::Api":
		return map[string]any{"webhook_url": nil, "hmac_mandatory": false, "additional_attributes": map[string]any{},
			"hmac_token": randomHex(), "secret": randomHex(), "identifier": randomHex()}
	case "Channel::Email":
		return map[string]any{"email": "", "imap_enabled": false, "imap_login": "", "imap_password": "", "imap_address": "",
			"imap_port": int64(0), "imap_enable_ssl": true, "imap_authentication": "plain", "smtp_enabled": false, "smtp_login": "",
			"smtp_password": "", "smtp_address": "", "smtp_port": int64(0), "smtp_domain": "", "smtp_enable_starttls_auto": true,
			"smtp_enable_ssl_tls": false, "smtp_openssl_verify_mode": "none", "smtp_authentication": "login", "provider": nil,
			"verified_for_sending": false, "forward_to_email": randomHex() + "@" + inboundEmailFakeHost}
	}
	return map[string]any{}
}

// cast converts a parameter as ActiveRecord casts it for a column type;
// ok is false for a value the column refuses.
func cast(kind string, v any) (any, bool) {
	if v == nil {
		return nil, true
	}
	switch kind {
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, true
		case float64:
			return x != 0, true
		case string:
			switch strings.ToLower(x) {
			case "", "0", "f", "false", "off":
				return false, true
			}
			return true, true
		}
	case "int":
		switch x := v.(type) {
		case float64:
			return int64(math.Trunc(x)), true
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			return n, err == nil || strings.TrimSpace(x) == ""
		}
	case "reply_time":
		switch x := v.(type) {
		case string:
			if x == "in_a_few_minutes" || x == "in_a_few_hours" || x == "in_a_day" {
				return x, true
			}
		case float64:
			if r := []string{"in_a_few_minutes", "in_a_few_hours", "in_a_day"}; x >= 0 && int(x) < len(r) {
				return r[int(x)], true
			}
		}
		return nil, false
	case "map":
		m, ok := v.(map[string]any)
		return m, ok
	default:
		switch x := v.(type) {
		case string:
			return x, true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case bool:
			return strconv.FormatBool(x), true
		}
	}
	return nil, false
}

// Inboxes returns an account's inboxes created through the API.
func (s *Server) Inboxes(account int64) []Inbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Inbox
	for _, in := range s.st().inboxes {
		if in.AccountID == account {
			cp := *in
			cp.Channel = cloneMap(in.Channel)
			out = append(out, cp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// InboxBot is the agent bot an inbox is connected to (0: none).
func (s *Server) InboxBot(inbox int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st().inboxBot[inbox]
}

// Labels returns an account's labels by title.
func (s *Server) Labels(account int64) []Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Label
	for _, l := range s.st().labels {
		if l.AccountID == account {
			out = append(out, *l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Title < out[j].Title })
	return out
}

// AttributeDefinitions returns an account's custom attribute definitions.
func (s *Server) AttributeDefinitions(account int64) []AttributeDefinition {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AttributeDefinition
	for _, a := range s.st().attrs {
		if a.AccountID == account {
			cp := *a
			cp.Values = slices.Clone(a.Values)
			out = append(out, cp)
		}
	}
	return out
}

// Teams returns an account's teams.
func (s *Server) Teams(account int64) []Team {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Team
	for _, t := range s.st().teams {
		if t.AccountID == account {
			out = append(out, *t)
		}
	}
	return out
}

// TeamMembers returns the user ids of a team.
func (s *Server) TeamMembers(team int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st().teamMembers[team])
}

// InboxMembers returns the user ids of an inbox.
func (s *Server) InboxMembers(inbox int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st().inboxMembers[inbox])
}

// AgentBotToken is a bot's access token.
func (s *Server) AgentBotToken(bot int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.botToken(bot)
}

// AgentBots returns the bots the fake knows.
func (s *Server) AgentBots() []AgentBot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bots)
}

// routeSetup finds the setup endpoints' handlers (see route).
func (s *Server) routeSetup(method string, seg []string) (handler, string) {
	id := func(i int) int64 {
		n, err := strconv.ParseInt(seg[i], 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	write := method == http.MethodPatch || method == http.MethodPut
	switch {
	case len(seg) == 1 && seg[0] == "inboxes" && method == http.MethodGet:
		return s.listInboxes, "inboxes#index"
	case len(seg) == 1 && seg[0] == "inboxes" && method == http.MethodPost:
		return s.createInbox, "inboxes#create"
	case len(seg) == 2 && seg[0] == "inboxes" && write:
		return s.withInbox(id(1), s.updateInbox), "inboxes#update"
	case len(seg) == 3 && seg[0] == "inboxes" && seg[2] == "set_agent_bot" && method == http.MethodPost:
		return s.withInbox(id(1), s.setAgentBot), "inboxes#set_agent_bot"
	case len(seg) == 3 && seg[0] == "inboxes" && seg[2] == "agent_bot" && method == http.MethodGet:
		return s.withInbox(id(1), s.inboxAgentBot), "inboxes#agent_bot"
	case len(seg) == 2 && seg[0] == "inbox_members" && method == http.MethodGet:
		return s.withInbox(id(1), s.listInboxMembers), "inbox_members#show"
	case len(seg) == 1 && seg[0] == "inbox_members" && method == http.MethodPost:
		return s.addInboxMembers, "inbox_members#create"
	case len(seg) == 1 && seg[0] == "agent_bots" && method == http.MethodPost:
		return s.createAgentBot, "agent_bots#create"
	case len(seg) == 2 && seg[0] == "agent_bots" && method == http.MethodGet:
		return s.showAgentBot(id(1)), "agent_bots#show"
	case len(seg) == 2 && seg[0] == "agent_bots" && write:
		return s.updateAgentBot(id(1)), "agent_bots#update"
	case len(seg) == 1 && seg[0] == "labels" && method == http.MethodGet:
		return s.listLabels, "labels#index"
	case len(seg) == 1 && seg[0] == "labels" && method == http.MethodPost:
		return s.saveLabel(0), "labels#create"
	case len(seg) == 2 && seg[0] == "labels" && write:
		return s.saveLabel(id(1)), "labels#update"
	case len(seg) == 1 && seg[0] == "custom_attribute_definitions" && method == http.MethodGet:
		return s.listAttributes, "custom_attribute_definitions#index"
	case len(seg) == 1 && seg[0] == "custom_attribute_definitions" && method == http.MethodPost:
		return s.saveAttribute(0), "custom_attribute_definitions#create"
	case len(seg) == 2 && seg[0] == "custom_attribute_definitions" && write:
		return s.saveAttribute(id(1)), "custom_attribute_definitions#update"
	case len(seg) == 1 && seg[0] == "teams" && method == http.MethodGet:
		return s.listTeams, "teams#index"
	case len(seg) == 1 && seg[0] == "teams" && method == http.MethodPost:
		return s.saveTeam(0), "teams#create"
	case len(seg) == 2 && seg[0] == "teams" && write:
		return s.saveTeam(id(1)), "teams#update"
	case len(seg) == 3 && seg[0] == "teams" && seg[2] == "team_members" && method == http.MethodGet:
		return s.teamMembers(id(1), false), "team_members#index"
	case len(seg) == 3 && seg[0] == "teams" && seg[2] == "team_members" && method == http.MethodPost:
		return s.teamMembers(id(1), true), "team_members#create"
	case len(seg) == 1 && seg[0] == "agents" && method == http.MethodGet:
		return s.listAgents, "agents#index"
	case len(seg) == 1 && seg[0] == "agents" && method == http.MethodPost:
		return s.createAgent, "agents#create"
	case len(seg) == 2 && seg[0] == "agents" && write:
		return s.updateAgent(id(1)), "agents#update"
	}
	return nil, ""
}

// nested reads a model's params: the nested object, else the flat keys
// ParamsWrapper wraps; ok is false when neither is there
// (ParameterMissing: 422).
func (c *call) nested(root string, keys ...string) (map[string]any, bool) {
	if m, ok := c.params[root].(map[string]any); ok {
		return m, true
	}
	m := map[string]any{}
	for _, k := range keys {
		if v, ok := c.params[k]; ok {
			m[k] = v
		}
	}
	if len(m) == 0 {
		c.error(http.StatusUnprocessableEntity, "param is missing or the value is empty: "+root)
		return nil, false
	}
	return m, true
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// withInbox is fetch_inbox: Current.account.inboxes.find (404), then
// authorize show? (an agent must be a member of the inbox).
func (s *Server) withInbox(id int64, h func(*call, *Inbox)) handler {
	return func(c *call) {
		s.mu.Lock()
		in := s.st().inboxes[id]
		ok := in != nil && in.AccountID == c.account
		var allowed bool
		if ok {
			uid, role := s.role(c)
			allowed = role == "administrator" || slices.Contains(s.st().inboxMembers[id], uid)
		}
		s.mu.Unlock()
		switch {
		case !ok:
			c.error(http.StatusNotFound, ErrNotFound)
		case !allowed:
			c.error(http.StatusUnauthorized, ErrNotAuthorizedTo)
		default:
			h(c, in)
		}
	}
}

// inboxJSON is api/v1/models/_inbox.json.jbuilder for the three channel
// types; admin shows what Current.account_user&.administrator? gates.
func (s *Server) inboxJSON(in *Inbox, admin bool) map[string]any {
	ch := in.Channel
	get := func(k string) any { return ch[k] }
	out := map[string]any{
		"id": in.ID, "avatar_url": "", "channel_id": in.ID, "name": in.Name, "channel_type": in.ChannelType,
		"greeting_enabled": false, "greeting_message": nil, "working_hours_enabled": false, "enable_email_collect": true,
		"csat_survey_enabled": false, "csat_config": map[string]any{}, "enable_auto_assignment": true,
		"auto_assignment_config": map[string]any{}, "out_of_office_message": nil, "working_hours": []any{}, "timezone": "UTC",
		"callback_webhook_url": nil, "allow_messages_after_resolved": true, "lock_to_single_conversation": false,
		"sender_name_type": "friendly", "business_name": nil,
		// resource.channel.try(...): nil for a channel without the column.
		"allowed_domains": get("allowed_domains"), "widget_color": get("widget_color"), "website_url": get("website_url"),
		"hmac_mandatory": get("hmac_mandatory"), "welcome_title": get("welcome_title"), "welcome_tagline": get("welcome_tagline"),
		"web_widget_script": nil, "website_token": get("website_token"), "selected_feature_flags": nil, "reply_time": get("reply_time"),
		"messaging_service_sid": nil, "phone_number": nil, "provider": get("provider"),
	}
	switch in.ChannelType {
	case "Channel::WebWidget":
		out["web_widget_script"] = "<script>/* website token " + fmt.Sprint(get("website_token")) + " */</script>"
		out["selected_feature_flags"] = []string{"attachments", "emoji_picker", "end_conversation"}
		if admin {
			out["hmac_token"] = get("hmac_token")
		}
		out["pre_chat_form_enabled"] = get("pre_chat_form_enabled")
		out["pre_chat_form_options"] = map[string]any{}
		out["continuity_via_email"] = get("continuity_via_email")
	case "Channel::Email":
		out["email"] = get("email")
		out["forwarding_enabled"] = false
		if admin {
			for k := range channelAttrs["Channel::Email"] {
				if strings.HasPrefix(k, "imap_") || strings.HasPrefix(k, "smtp_") {
					out[k] = get(k)
				}
			}
		}
	case "Channel::Api":
		if admin {
			out["hmac_token"] = get("hmac_token")
			out["secret"] = get("secret")
		}
		out["webhook_url"] = get("webhook_url")
		out["inbox_identifier"] = get("identifier")
		out["additional_attributes"] = get("additional_attributes")
	}
	return out
}

// listInboxes is InboxesController#index: policy_scope (an
// administrator's are all the account's, an agent's those it is a member
// of), ordered by name.
func (s *Server) listInboxes(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, role := s.role(c)
	var ins []*Inbox
	for _, in := range s.st().inboxes {
		if in.AccountID == c.account && (role == "administrator" || slices.Contains(s.st().inboxMembers[in.ID], uid)) {
			ins = append(ins, in)
		}
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].Name < ins[j].Name })
	payload := []map[string]any{}
	for _, in := range ins {
		payload = append(payload, s.inboxJSON(in, role == "administrator"))
	}
	c.json(http.StatusOK, map[string]any{"payload": payload})
}

// setupShowInbox answers InboxesController#show for an inbox created
// through the API; false for the others (AddInbox's).
func (s *Server) setupShowInbox(c *call, id int64) bool {
	s.mu.Lock()
	in := s.st().inboxes[id]
	s.mu.Unlock()
	if in == nil || in.AccountID != c.account {
		return false
	}
	s.withInbox(id, func(c *call, in *Inbox) {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, role := s.role(c)
		c.json(http.StatusOK, s.inboxJSON(in, role == "administrator"))
	})(c)
	return true
}

// applyChannel copies the permitted channel params onto ch; it returns the
// validation failures.
func applyChannel(ct string, ch map[string]any, params map[string]any) (msgs, attrs []string) {
	for k, v := range params {
		kind, ok := channelAttrs[ct][k]
		if !ok {
			continue // unpermitted: dropped
		}
		x, ok := cast(kind, v)
		if !ok {
			msgs, attrs = append(msgs, k+" is invalid"), append(attrs, k)
			continue
		}
		ch[k] = x
	}
	return msgs, attrs
}

// validateInbox runs the channel's and the inbox's validations; the
// caller holds s.mu.
func (s *Server) validateInbox(in *Inbox) (msgs, attrs []string) {
	if strings.TrimSpace(in.Name) == "" {
		msgs, attrs = append(msgs, "Name can't be blank"), append(attrs, "name")
	}
	switch in.ChannelType {
	case "Channel::WebWidget":
		if str(in.Channel, "website_url") == "" {
			msgs, attrs = append(msgs, "Website url can't be blank"), append(attrs, "website_url")
		}
		if str(in.Channel, "widget_color") == "" {
			msgs, attrs = append(msgs, "Widget color can't be blank"), append(attrs, "widget_color")
		}
	case "Channel::Email":
		email := str(in.Channel, "email")
		if email == "" {
			msgs, attrs = append(msgs, "Email can't be blank"), append(attrs, "email")
		}
		// validates :email, uniqueness: true (across every account).
		for _, o := range s.st().inboxes {
			if o.ID != in.ID && o.ChannelType == "Channel::Email" && str(o.Channel, "email") == email && email != "" {
				msgs, attrs = append(msgs, "Email has already been taken"), append(attrs, "email")
				break
			}
		}
	}
	return msgs, attrs
}

// createInbox is InboxesController#create: administrators only; a
// channel of an allowed type built from its EDITABLE_ATTRS, then the inbox.
func (s *Server) createInbox(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.admin(c) {
		return
	}
	chParams, _ := c.params["channel"].(map[string]any)
	ct := channelTypes[str(chParams, "type")]
	if ct == "" {
		// create_channel returns nil for another type: the inbox has no
		// channel and save! fails.
		c.invalid([]string{"Channel must exist"}, []string{"channel"})
		return
	}
	in := &Inbox{AccountID: c.account, Name: c.str("name"), ChannelType: ct, Channel: channelDefaults(ct)}
	msgs, attrs := applyChannel(ct, in.Channel, chParams)
	m2, a2 := s.validateInbox(in)
	if msgs, attrs = append(msgs, m2...), append(attrs, a2...); len(msgs) > 0 {
		c.invalid(msgs, attrs)
		return
	}
	s.nextID++
	in.ID = s.nextID
	s.st().inboxes[in.ID] = in
	s.inboxes[[2]int64{c.account, in.ID}] = true
	c.json(http.StatusOK, s.inboxJSON(in, true))
}

// updateInbox is InboxesController#update: the inbox's attributes, then
// the channel's EDITABLE_ATTRS when "channel" holds any.
func (s *Server) updateInbox(c *call, in *Inbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.admin(c) {
		return
	}
	next := *in
	next.Channel = cloneMap(in.Channel)
	if _, ok := c.params["name"]; ok {
		next.Name = c.str("name")
	}
	chParams, _ := c.params["channel"].(map[string]any)
	msgs, attrs := applyChannel(in.ChannelType, next.Channel, chParams)
	m2, a2 := s.validateInbox(&next)
	if msgs, attrs = append(msgs, m2...), append(attrs, a2...); len(msgs) > 0 {
		c.invalid(msgs, attrs)
		return
	}
	*in = next
	c.json(http.StatusOK, s.inboxJSON(in, true))
}

// setAgentBot is InboxesController#set_agent_bot: the bot must be the
// account's or a system bot (AgentBot.accessible_to, 404 otherwise); no
// agent_bot (absent, null or false: fetch_agent_bot looks a bot up only
// when params[:agent_bot] is truthy, so "" and 0 are a 404) removes the
// connection. Administrators only (InboxPolicy#set_agent_bot?, checked
// after fetch_agent_bot); bots never (not a BOT_ACCESSIBLE_ENDPOINT).
// head :ok.
func (s *Server) setAgentBot(c *call, in *Inbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bot *AgentBot
	if v, ok := c.params["agent_bot"]; ok && v != nil && v != false {
		id := c.int("agent_bot")
		for i := range s.bots {
			if s.bots[i].ID == id && (s.bots[i].AccountID == 0 || s.bots[i].AccountID == c.account) {
				bot = &s.bots[i]
			}
		}
		if bot == nil {
			c.error(http.StatusNotFound, ErrNotFound)
			return
		}
	}
	if !s.admin(c) {
		return
	}
	if bot == nil {
		delete(s.st().inboxBot, in.ID)
	} else {
		s.st().inboxBot[in.ID] = bot.ID
	}
	c.w.WriteHeader(http.StatusOK)
	c.rec.Status = http.StatusOK
}

// inboxAgentBot is InboxesController#agent_bot: {"agent_bot": {...}}, or
// a blank agent_bot when none is connected.
func (s *Server) inboxAgentBot(c *call, in *Inbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	if id, ok := s.st().inboxBot[in.ID]; ok {
		for i := range s.bots {
			if s.bots[i].ID == id {
				_, role := s.role(c)
				out = s.botJSON(&s.bots[i], c.account, role == "administrator")
			}
		}
	}
	c.json(http.StatusOK, map[string]any{"agent_bot": out})
}

// agentJSON is api/v1/models/_agent.json.jbuilder.
func (s *Server) agentJSON(u *SetupUser, account int64) map[string]any {
	return map[string]any{"id": u.ID, "account_id": account, "availability_status": "offline", "auto_offline": true,
		"confirmed": u.Confirmed, "email": u.Email, "provider": "email", "available_name": u.Name, "name": u.Name,
		"role": s.st().accountUsers[[2]int64{account, u.ID}], "thumbnail": ""}
}

func (s *Server) listInboxMembers(c *call, in *Inbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	payload := []map[string]any{}
	for _, uid := range s.st().inboxMembers[in.ID] {
		if u := s.st().users[uid]; u != nil {
			payload = append(payload, s.agentJSON(u, c.account))
		}
	}
	c.json(http.StatusOK, map[string]any{"payload": payload})
}

// userIDs reads params[:user_ids].
func (c *call) userIDs() []int64 {
	var out []int64
	if v, ok := c.params["user_ids"].([]any); ok {
		for _, x := range v {
			switch n := x.(type) {
			case float64:
				out = append(out, int64(n))
			case string:
				if id, err := strconv.ParseInt(n, 10, 64); err == nil {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// addInboxMembers is InboxMembersController#create: adds the users not
// yet members; answers the inbox's members.
func (s *Server) addInboxMembers(c *call) {
	id := c.int("inbox_id")
	s.withInbox(id, func(c *call, in *Inbox) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.admin(c) {
			return
		}
		for _, uid := range c.userIDs() {
			if !slices.Contains(s.st().inboxMembers[in.ID], uid) {
				s.st().inboxMembers[in.ID] = append(s.st().inboxMembers[in.ID], uid)
			}
		}
		payload := []map[string]any{}
		for _, uid := range s.st().inboxMembers[in.ID] {
			if u := s.st().users[uid]; u != nil {
				payload = append(payload, s.agentJSON(u, c.account))
			}
		}
		c.json(http.StatusOK, map[string]any{"payload": payload})
	})(c)
}

// botJSON is api/v1/models/_agent_bot.json.jbuilder through
// AgentBotPresenter: the access token for the account's own bot, the
// secret (WebhookSecretable, 4.13.0+) for an administrator and never for a
// system bot, no outgoing_url for a system bot.
func (s *Server) botJSON(b *AgentBot, account int64, admin bool) map[string]any {
	system := b.AccountID == 0
	out := map[string]any{"id": b.ID, "name": b.Name, "description": s.st().botDesc[b.ID], "thumbnail": "",
		"bot_type": "webhook", "bot_config": map[string]any{}, "system_bot": system, "account_id": nil}
	if !system {
		out["account_id"] = b.AccountID
		out["outgoing_url"] = b.OutgoingURL
		if b.AccountID == account {
			out["access_token"] = s.botToken(b.ID)
		}
		if admin && atLeast(s.Version, 4, 13, 0) {
			out["secret"] = b.Secret
		}
	}
	return out
}

// botToken is the bot's access token (AccessTokenable makes one with
// every bot; bots added with AddAgentBot get theirs when first shown); the
// caller holds s.mu.
func (s *Server) botToken(id int64) string {
	st := s.st()
	if tok, ok := st.botTokens[id]; ok {
		return tok
	}
	tok := "cw-bot-" + randomHex()
	st.botTokens[id] = tok
	st.tokens[tok] = tokenOwner{kind: Bot, id: id}
	return tok
}

// createAgentBot is AgentBotsController#create:
// Current.account.agent_bots.create! (administrators).
func (s *Server) createAgentBot(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.admin(c) {
		return
	}
	s.nextID++
	b := AgentBot{ID: s.nextID, Name: c.str("name"), OutgoingURL: c.str("outgoing_url"), AccountID: c.account, Secret: randomHex()}
	s.bots = append(s.bots, b)
	s.botToken(b.ID)
	s.st().botDesc[b.ID] = c.str("description")
	c.json(http.StatusOK, s.botJSON(&s.bots[len(s.bots)-1], c.account, true))
}

// showAgentBot finds the bot among AgentBot.accessible_to (the account's
// and system bots).
func (s *Server) showAgentBot(id int64) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range s.bots {
			if b := &s.bots[i]; b.ID == id && (b.AccountID == 0 || b.AccountID == c.account) {
				_, role := s.role(c)
				c.json(http.StatusOK, s.botJSON(b, c.account, role == "administrator"))
				return
			}
		}
		c.error(http.StatusNotFound, ErrNotFound)
	}
}

// updateAgentBot finds the bot among the account's own
// (Current.account.agent_bots.find: a system bot is 404).
func (s *Server) updateAgentBot(id int64) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range s.bots {
			b := &s.bots[i]
			if b.ID != id || b.AccountID != c.account {
				continue
			}
			if !s.admin(c) {
				return
			}
			if _, ok := c.params["name"]; ok {
				b.Name = c.str("name")
			}
			if _, ok := c.params["outgoing_url"]; ok {
				b.OutgoingURL = c.str("outgoing_url")
			}
			if _, ok := c.params["description"]; ok {
				s.st().botDesc[b.ID] = c.str("description")
			}
			c.json(http.StatusOK, s.botJSON(b, c.account, true))
			return
		}
		c.error(http.StatusNotFound, ErrNotFound)
	}
}

func labelJSON(l *Label) map[string]any {
	return map[string]any{"id": l.ID, "title": l.Title, "description": l.Description, "color": l.Color, "show_on_sidebar": l.ShowOnSidebar}
}

func (s *Server) listLabels(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	payload := []map[string]any{}
	for _, l := range s.st().labels {
		if l.AccountID == c.account {
			payload = append(payload, labelJSON(l))
		}
	}
	sort.Slice(payload, func(i, j int) bool { return payload[i]["title"].(string) < payload[j]["title"].(string) })
	c.json(http.StatusOK, map[string]any{"payload": payload})
}

// labelTitle is RegexHelper::UNICODE_CHARACTER_NUMBER_HYPHEN_UNDERSCORE.
var labelTitle = regexp.MustCompile(`^[\p{L}\p{N}_-]+$`)

// saveLabel is LabelsController#create (id 0) and #update: title
// downcased, letters, digits, - and _, unique in the account.
func (s *Server) saveLabel(id int64) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var cur *Label
		if id != 0 {
			for _, l := range s.st().labels {
				if l.ID == id && l.AccountID == c.account {
					cur = l
				}
			}
			if cur == nil {
				c.error(http.StatusNotFound, ErrNotFound)
				return
			}
		}
		if !s.admin(c) {
			return
		}
		p, ok := c.nested("label", "title", "description", "color", "show_on_sidebar")
		if !ok {
			return
		}
		next := Label{AccountID: c.account, Color: defaultWidgetColor}
		if cur != nil {
			next = *cur
		}
		if _, ok := p["title"]; ok {
			next.Title = strings.ToLower(str(p, "title"))
		}
		if _, ok := p["description"]; ok {
			next.Description = str(p, "description")
		}
		if _, ok := p["color"]; ok {
			next.Color = str(p, "color")
		}
		if v, ok := p["show_on_sidebar"]; ok {
			b, _ := cast("bool", v)
			next.ShowOnSidebar, _ = b.(bool)
		}
		var msgs, attrs []string
		switch {
		case next.Title == "":
			msgs, attrs = append(msgs, "Title can't be blank"), append(attrs, "title")
		case !labelTitle.MatchString(next.Title):
			msgs, attrs = append(msgs, "Title is invalid"), append(attrs, "title")
		}
		for _, l := range s.st().labels {
			if l.AccountID == c.account && l.ID != next.ID && l.Title == next.Title {
				msgs, attrs = append(msgs, "Title has already been taken"), append(attrs, "title")
			}
		}
		if len(msgs) > 0 {
			c.invalid(msgs, attrs)
			return
		}
		if cur == nil {
			s.nextID++
			next.ID = s.nextID
			cur = &Label{}
			s.st().labels = append(s.st().labels, cur)
		}
		*cur = next
		c.json(http.StatusOK, labelJSON(cur))
	}
}

var (
	attributeModels       = []string{"conversation_attribute", "contact_attribute", "company_attribute"}
	attributeDisplayTypes = []string{"text", "number", "currency", "percent", "link", "date", "list", "checkbox"}
	// standardContactAttributes is CustomAttributeDefinition::STANDARD_ATTRIBUTES[:contact].
	standardContactAttributes = []string{"name", "email", "phone_number", "identifier", "country_code", "city",
		"company_name", "created_at", "last_activity_at", "referer", "blocked"}
	attributeKey = regexp.MustCompile(`^[\p{L}\p{N}_.\-]+$`)
)

// enumValue reads a Rails enum parameter given by name or number.
func enumValue(v any, values []string) (string, bool) {
	switch x := v.(type) {
	case string:
		if slices.Contains(values, x) {
			return x, true
		}
		if n, err := strconv.Atoi(x); err == nil && n >= 0 && n < len(values) {
			return values[n], true
		}
	case float64:
		if x >= 0 && int(x) < len(values) {
			return values[int(x)], true
		}
	}
	return "", false
}

func attributeJSON(a *AttributeDefinition) map[string]any {
	values := a.Values
	if values == nil {
		values = []string{}
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return map[string]any{"id": a.ID, "attribute_display_name": a.DisplayName, "attribute_display_type": a.DisplayType,
		"attribute_description": null(a.Description), "attribute_key": a.Key, "regex_pattern": null(a.RegexPattern),
		"regex_cue": null(a.RegexCue), "attribute_values": values, "attribute_model": a.Model, "default_value": nil}
}

// listAttributes is CustomAttributeDefinitionsController#index, filtered
// by ?attribute_model= when given.
func (s *Server) listAttributes(c *call) {
	model, filter := enumValue(c.params["attribute_model"], attributeModels)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, a := range s.st().attrs {
		if a.AccountID == c.account && (!filter || a.Model == model) {
			out = append(out, attributeJSON(a))
		}
	}
	c.json(http.StatusOK, out)
}

// saveAttribute is CustomAttributeDefinitionsController#create (id 0) and
// #update: display name, key (letters, digits, _ . -; unique per model;
// not a standard attribute on create), display type and model required.
func (s *Server) saveAttribute(id int64) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var cur *AttributeDefinition
		if id != 0 {
			for _, a := range s.st().attrs {
				if a.ID == id && a.AccountID == c.account {
					cur = a
				}
			}
			if cur == nil {
				c.error(http.StatusNotFound, ErrNotFound)
				return
			}
		}
		if !s.admin(c) {
			return
		}
		p, ok := c.nested("custom_attribute_definition", "attribute_display_name", "attribute_description",
			"attribute_display_type", "attribute_key", "attribute_model", "regex_pattern", "regex_cue", "attribute_values")
		if !ok {
			return
		}
		next := AttributeDefinition{AccountID: c.account, DisplayType: "text", Model: "conversation_attribute"}
		if cur != nil {
			next = *cur
			next.Values = slices.Clone(cur.Values)
		}
		for _, f := range []struct {
			key string
			dst *string
		}{{"attribute_display_name", &next.DisplayName}, {"attribute_description", &next.Description},
			{"attribute_key", &next.Key}, {"regex_pattern", &next.RegexPattern}, {"regex_cue", &next.RegexCue}} {
			if _, ok := p[f.key]; ok {
				*f.dst = strings.TrimSpace(str(p, f.key))
			}
		}
		if v, ok := p["attribute_values"].([]any); ok {
			next.Values = nil
			for _, x := range v {
				next.Values = append(next.Values, fmt.Sprint(x))
			}
		}
		for _, f := range []struct {
			key    string
			values []string
			dst    *string
		}{{"attribute_display_type", attributeDisplayTypes, &next.DisplayType}, {"attribute_model", attributeModels, &next.Model}} {
			if v, ok := p[f.key]; ok {
				x, ok := enumValue(v, f.values)
				if !ok {
					// An unknown enum value raises ArgumentError: a 500.
					c.json(http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
					return
				}
				*f.dst = x
			}
		}
		var msgs, attrs []string
		if next.DisplayName == "" {
			msgs, attrs = append(msgs, "Attribute display name can't be blank"), append(attrs, "attribute_display_name")
		}
		switch {
		case next.Key == "":
			msgs, attrs = append(msgs, "Attribute key can't be blank"), append(attrs, "attribute_key")
		case !attributeKey.MatchString(next.Key):
			msgs, attrs = append(msgs, "Attribute key is invalid"), append(attrs, "attribute_key")
		}
		for _, a := range s.st().attrs {
			if a.AccountID == c.account && a.ID != next.ID && a.Key == next.Key && a.Model == next.Model {
				msgs, attrs = append(msgs, "Attribute key has already been taken"), append(attrs, "attribute_key")
			}
		}
		if cur == nil && next.Model == "contact_attribute" && slices.Contains(standardContactAttributes, next.Key) {
			msgs, attrs = append(msgs, "Attribute key cannot be the same as a standard attribute"), append(attrs, "attribute_key")
		}
		if len(msgs) > 0 {
			c.invalid(msgs, attrs)
			return
		}
		if cur == nil {
			s.nextID++
			next.ID = s.nextID
			cur = &AttributeDefinition{}
			s.st().attrs = append(s.st().attrs, cur)
		}
		*cur = next
		c.json(http.StatusOK, attributeJSON(cur))
	}
}

func (s *Server) teamJSON(t *Team, uid int64) map[string]any {
	return map[string]any{"id": t.ID, "name": t.Name, "description": t.Description, "allow_auto_assign": t.AllowAutoAssign,
		"account_id": t.AccountID, "is_member": slices.Contains(s.st().teamMembers[t.ID], uid)}
}

func (s *Server) listTeams(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, _ := s.role(c)
	out := []map[string]any{}
	for _, t := range s.st().teams {
		if t.AccountID == c.account {
			out = append(out, s.teamJSON(t, uid))
		}
	}
	c.json(http.StatusOK, out)
}

// saveTeam is TeamsController#create (id 0) and #update:
// params.require(:team); the name is downcased and unique in the account.
func (s *Server) saveTeam(id int64) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var cur *Team
		if id != 0 {
			for _, t := range s.st().teams {
				if t.ID == id && t.AccountID == c.account {
					cur = t
				}
			}
			if cur == nil {
				c.error(http.StatusNotFound, ErrNotFound)
				return
			}
		}
		if !s.admin(c) {
			return
		}
		p, ok := c.nested("team", "name", "description", "allow_auto_assign")
		if !ok {
			return
		}
		next := Team{AccountID: c.account, AllowAutoAssign: true}
		if cur != nil {
			next = *cur
		}
		if _, ok := p["name"]; ok {
			next.Name = strings.ToLower(str(p, "name"))
		}
		if _, ok := p["description"]; ok {
			next.Description = str(p, "description")
		}
		if v, ok := p["allow_auto_assign"]; ok {
			b, _ := cast("bool", v)
			next.AllowAutoAssign, _ = b.(bool)
		}
		var msgs, attrs []string
		if strings.TrimSpace(next.Name) == "" {
			msgs, attrs = append(msgs, "Name must not be blank"), append(attrs, "name")
		}
		for _, t := range s.st().teams {
			if t.AccountID == c.account && t.ID != next.ID && t.Name == next.Name {
				msgs, attrs = append(msgs, "Name has already been taken"), append(attrs, "name")
			}
		}
		if len(msgs) > 0 {
			c.invalid(msgs, attrs)
			return
		}
		if cur == nil {
			s.nextID++
			next.ID = s.nextID
			cur = &Team{}
			s.st().teams = append(s.st().teams, cur)
		}
		*cur = next
		uid, _ := s.role(c)
		c.json(http.StatusOK, s.teamJSON(cur, uid))
	}
}

// teamMembers is TeamMembersController#index and #create: the ids must be
// the account's users (401 "Invalid User IDs"); create adds those not yet
// members and answers them.
func (s *Server) teamMembers(id int64, add bool) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var team *Team
		for _, t := range s.st().teams {
			if t.ID == id && t.AccountID == c.account {
				team = t
			}
		}
		if team == nil {
			c.error(http.StatusNotFound, ErrNotFound)
			return
		}
		if !add {
			out := []map[string]any{}
			for _, uid := range s.st().teamMembers[id] {
				if u := s.st().users[uid]; u != nil {
					out = append(out, s.agentJSON(u, c.account))
				}
			}
			c.json(http.StatusOK, out)
			return
		}
		if !s.admin(c) {
			return
		}
		ids := c.userIDs()
		for _, uid := range ids {
			if _, ok := s.st().accountUsers[[2]int64{c.account, uid}]; !ok {
				c.error(http.StatusUnauthorized, "Invalid User IDs")
				return
			}
		}
		out := []map[string]any{}
		for _, uid := range ids {
			if !slices.Contains(s.st().teamMembers[id], uid) {
				s.st().teamMembers[id] = append(s.st().teamMembers[id], uid)
				if u := s.st().users[uid]; u != nil {
					out = append(out, s.agentJSON(u, c.account))
				}
			}
		}
		c.json(http.StatusOK, out)
	}
}

// listAgents is AgentsController#index: the account's users by name.
func (s *Server) listAgents(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var us []*SetupUser
	for k := range s.st().accountUsers {
		if u := s.st().users[k[1]]; k[0] == c.account && u != nil {
			us = append(us, u)
		}
	}
	sort.Slice(us, func(i, j int) bool { return strings.ToLower(us[i].Name) < strings.ToLower(us[j].Name) })
	out := []map[string]any{}
	for _, u := range us {
		out = append(out, s.agentJSON(u, c.account))
	}
	c.json(http.StatusOK, out)
}

// createAgent is AgentsController#create through AgentBuilder: the user
// with that e-mail, or a new one (unconfirmed: Chatwoot e-mails the
// invitation), made a member with the role (agent by default); a user
// already in the account is 422.
func (s *Server) createAgent(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.admin(c) {
		return
	}
	p, ok := c.nested("agent", "email", "name", "role", "availability", "auto_offline")
	if !ok {
		return
	}
	email := strings.ToLower(strings.TrimSpace(str(p, "email")))
	role := str(p, "role")
	if role == "" {
		role = "agent"
	}
	if role != "agent" && role != "administrator" {
		c.json(http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
		return
	}
	var u *SetupUser
	for _, x := range s.st().users {
		if x.Email == email {
			u = x
		}
	}
	if u == nil {
		if email == "" || !strings.Contains(email, "@") {
			c.invalid([]string{"Email is invalid"}, []string{"email"})
			return
		}
		name := str(p, "name")
		if name == "" {
			name, _, _ = strings.Cut(email, "@")
		}
		s.nextID++
		u = &SetupUser{ID: s.nextID, Name: name, Email: email, AccessToken: "cw-user-" + randomHex()}
		s.st().users[u.ID] = u
		s.st().tokens[u.AccessToken] = tokenOwner{kind: User, id: u.ID}
	}
	key := [2]int64{c.account, u.ID}
	if _, ok := s.st().accountUsers[key]; ok {
		c.invalid([]string{"User has already been taken"}, []string{"user_id"})
		return
	}
	s.st().accountUsers[key] = role
	c.json(http.StatusOK, s.agentJSON(u, c.account))
}

// updateAgent is AgentsController#update: name on the user, role on the
// membership.
func (s *Server) updateAgent(id int64) handler {
	return func(c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		key := [2]int64{c.account, id}
		u := s.st().users[id]
		if _, member := s.st().accountUsers[key]; !member || u == nil {
			c.error(http.StatusNotFound, ErrNotFound)
			return
		}
		if !s.admin(c) {
			return
		}
		p, ok := c.nested("agent", "name", "email", "role", "availability", "auto_offline")
		if !ok {
			return
		}
		if n := str(p, "name"); n != "" {
			u.Name = n
		}
		if r := str(p, "role"); r != "" {
			if r != "agent" && r != "administrator" {
				c.json(http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
				return
			}
			s.st().accountUsers[key] = r
		}
		c.json(http.StatusOK, s.agentJSON(u, c.account))
	}
}

// defaultBranding is config/installation_config.yml's branding values.
func defaultBranding() map[string]any {
	return map[string]any{"INSTALLATION_NAME": "Chatwoot", "BRAND_NAME": "Chatwoot", "LOGO": "/brand-assets/logo.svg",
		"LOGO_DARK": "/brand-assets/logo_dark.svg", "LOGO_THUMBNAIL": "/brand-assets/logo_thumbnail.svg",
		"BRAND_URL": "https://www.chatwoot.com", "WIDGET_BRAND_URL": "https://www.chatwoot.com",
		"TERMS_URL": "https://www.chatwoot.com/terms-of-service", "PRIVACY_URL": "https://www.chatwoot.com/privacy-policy",
		"DISPLAY_MANIFEST": true}
}

// SetInstallationConfig sets an installation config (what
// InstallationConfig#update! in the Rails console does; no API sets it).
func (s *Server) SetInstallationConfig(name string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st().branding[name] = value
}

// SetOnboardingPending plays CHATWOOT_INSTALLATION_ONBOARDING: while set,
// the dashboard redirects to /installation/onboarding.
func (s *Server) SetOnboardingPending(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st().branding["_onboarding"] = on
}

// dashboard is DashboardController#index (GET /app/...): the onboarding
// redirect while it is pending, else the vueapp layout, whose
// window.globalConfig carries GLOBAL_CONFIG_KEYS.
func (s *Server) dashboard(c *call) {
	s.mu.Lock()
	cfg := cloneMap(s.st().branding)
	s.mu.Unlock()
	if on, _ := cfg["_onboarding"].(bool); on {
		c.w.Header().Set("Location", s.URL+"/installation/onboarding")
		c.w.WriteHeader(http.StatusFound)
		c.rec.Status = http.StatusFound
		return
	}
	delete(cfg, "_onboarding")
	b, _ := json.Marshal(cfg)
	name, _ := cfg["INSTALLATION_NAME"].(string)
	page := "<!DOCTYPE html>\n<html>\n  <head>\n    <title>\n      " + html.EscapeString(name) + "\n    </title>\n" +
		"    <script>\n      window.chatwootConfig = {\n        hostURL: '',\n      }\n      window.globalConfig = " + string(b) +
		"\n      window.browserConfig = {\n        browser_name: 'Other',\n      }\n    </script>\n  </head>\n" +
		"  <body class=\"text-slate-600\">\n    <div id=\"app\"></div>\n  </body>\n</html>\n"
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write([]byte(page))
	c.rec.Status = http.StatusOK
}
