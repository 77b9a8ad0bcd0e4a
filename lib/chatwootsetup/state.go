package chatwootsetup

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/replies"
)

// State is the desired state of a Chatwoot account: what `concierge
// chatwoot-setup` creates or corrects, and what `concierge doctor` reports
// missing. It is read from YAML (ansible/roles/chatwoot_setup/files/
// chatwoot.yml), whose scalars may name environment variables: ${NAME}
// (required) or ${NAME:-default}.
type State struct {
	Account     Account     `yaml:"account"`
	ServiceUser ServiceUser `yaml:"service_user"`
	// Agents are people with their role. The community edition has two
	// roles, agent and administrator; custom roles are Enterprise.
	Agents            []Agent     `yaml:"agents"`
	Teams             []Team      `yaml:"teams"`
	Inboxes           []Inbox     `yaml:"inboxes"`
	Labels            []Label     `yaml:"labels"`
	ContactAttributes []Attribute `yaml:"contact_attributes"`
	AgentBot          AgentBot    `yaml:"agent_bot"`
	// Branding names installation configs (INSTALLATION_NAME, LOGO, ...).
	// No API sets them: the chatwoot_setup Ansible role writes them in the
	// Rails console, and the setup only reads them back.
	Branding map[string]string `yaml:"branding"`
}

// Account is the Chatwoot account, found by name among those the
// platform app manages (or by id, see Options.AccountID).
type Account struct {
	Name   string `yaml:"name"`
	Locale string `yaml:"locale"`
}

// ServiceUser is the administrator the setup creates through the Platform
// API and acts as on the account API. Its access token is the contacts
// token (contact sync and erasure need an administrator's).
type ServiceUser struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// Agent is a person of the account.
type Agent struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
	// Role is agent (default) or administrator.
	Role string `yaml:"role"`
}

// Team is a team and its members' e-mails. Chatwoot stores team names in
// lower case.
type Team struct {
	Name            string   `yaml:"name"`
	Description     string   `yaml:"description"`
	AllowAutoAssign *bool    `yaml:"allow_auto_assign"`
	Members         []string `yaml:"members"`
}

// Inbox types.
const (
	WebWidget = "web_widget"
	Email     = "email"
	API       = "api"
)

// channelTypes are the Inbox#channel_type of each type.
var channelTypes = map[string]string{WebWidget: "Channel::WebWidget", Email: "Channel::Email", API: "Channel::Api"}

// DefaultUrgentInboxName is the urgent-calls inbox's name in the shipped
// setup file; the doctor looks for it when URGENT_CALL_INBOX_ID is unset.
const DefaultUrgentInboxName = "Urgent calls"

// Inbox is an inbox of one of the three types the setup makes.
type Inbox struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Members are the agents' e-mails that see the inbox (administrators
	// see every inbox).
	Members []string `yaml:"members"`
	// Teams are teams (by name, of Teams) whose members, as Chatwoot has
	// them, are made members of the inbox too.
	Teams []string `yaml:"teams"`
	// AgentBot: true connects the account's agent bot to the inbox, false
	// disconnects any bot from it, unset leaves the inbox's bot alone (an
	// UrgentCalls inbox is kept without one).
	AgentBot *bool `yaml:"agent_bot"`
	// ContactSync marks the inbox contact sync creates contacts in
	// (CHATWOOT_CONTACT_INBOX_ID). A web widget or API inbox: Chatwoot
	// needs an e-mail for a contact of an e-mail inbox.
	ContactSync bool `yaml:"contact_sync"`
	// Alerts marks the API inbox alert-bridge posts operations alerts to
	// (its identifier is the openfaas_chatwoot_ops_inbox secret).
	Alerts bool `yaml:"alerts"`
	// UrgentCalls marks the API inbox chatwoot-reply opens urgent missed
	// calls in (URGENT_CALL_INBOX_ID, lib/urgentcall). It never has the
	// agent bot: a conversation opened in a bot's inbox goes to the bot,
	// and chatwoot-reply would hand each one over at once.
	UrgentCalls bool `yaml:"urgent_calls"`
	// IdentityValidation is the channel's hmac_mandatory: Chatwoot accepts
	// a contact's identifier only with the website's HMAC of it, which is
	// what makes a widget visitor a proven guest (lib/guests).
	IdentityValidation bool `yaml:"identity_validation"`

	// Web widget.
	WebsiteURL     string `yaml:"website_url"`
	WidgetColor    string `yaml:"widget_color"`
	WelcomeTitle   string `yaml:"welcome_title"`
	WelcomeTagline string `yaml:"welcome_tagline"`

	// E-mail: the address, IMAP in and SMTP out. The passwords are the
	// secrets CHATWOOT_EMAIL_IMAP_PASSWORD and CHATWOOT_EMAIL_SMTP_PASSWORD.
	// An e-mail inbox whose address is empty is skipped.
	Email string `yaml:"email"`
	IMAP  *Mail  `yaml:"imap"`
	SMTP  *Mail  `yaml:"smtp"`

	// API channel: where Chatwoot posts the inbox's events ("" for none).
	WebhookURL string `yaml:"webhook_url"`
}

// bot says what the setup does with the inbox's agent bot: managed is
// false when it leaves it alone, else want is whether the account's bot
// is connected (true) or no bot at all (false).
func (in Inbox) bot() (want, managed bool) {
	switch {
	case in.AgentBot != nil:
		return *in.AgentBot, true
	case in.UrgentCalls:
		return false, true
	}
	return false, false
}

// Mail is an IMAP or SMTP server of an e-mail inbox.
type Mail struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	Login   string `yaml:"login"`
	// SSL is IMAP's imap_enable_ssl or SMTP's smtp_enable_ssl_tls (implicit
	// TLS, port 465); StartTLS is SMTP's smtp_enable_starttls_auto.
	SSL      *bool `yaml:"ssl"`
	StartTLS *bool `yaml:"starttls"`
	// Domain is SMTP's HELO domain.
	Domain string `yaml:"domain"`
	// Authentication: IMAP plain or login; SMTP login, plain or cram_md5.
	Authentication string `yaml:"authentication"`
}

// Label is a conversation label.
type Label struct {
	Title         string `yaml:"title"`
	Description   string `yaml:"description"`
	Color         string `yaml:"color"`
	ShowOnSidebar bool   `yaml:"show_on_sidebar"`
}

// Attribute is a contact custom attribute definition.
type Attribute struct {
	Key         string `yaml:"key"`
	Name        string `yaml:"name"`
	Type        string `yaml:"type"` // text, number, date, link, list, checkbox, ...
	Description string `yaml:"description"`
}

// AgentBot is the account's agent bot: created in the account (never a
// system bot, whose secret Chatwoot never shows), posting to llm-query.
type AgentBot struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// URL is llm-query's public route, https://gateway.<domain>/function/llm-query:
	// Chatwoot 4.14 refuses private addresses (SafeFetch).
	URL string `yaml:"url"`
}

// BotPath is where the agent bot posts: llm-query's synchronous route.
const BotPath = "/function/llm-query"

// RequiredLabels are the labels the code sets.
func RequiredLabels() []Label {
	return []Label{{Title: replies.HandoffLabel, Description: "The assistant handed the conversation to a person", Color: "#e53e3e", ShowOnSidebar: true}}
}

// RequiredAttributes are the contact attributes contact sync writes.
func RequiredAttributes() []Attribute {
	return []Attribute{
		{Key: contactsync.AttrGuestID, Name: "Guesty guest id", Type: "text", Description: "The guest's id in Guesty (contact sync)"},
		{Key: contactsync.AttrReservationID, Name: "Guesty reservation", Type: "text", Description: "The current or next stay's reservation id"},
		{Key: contactsync.AttrConfirmationCode, Name: "Confirmation code", Type: "text", Description: "The stay's booking confirmation code"},
		{Key: contactsync.AttrCheckIn, Name: "Check-in", Type: "date", Description: "The stay's check-in date (listing's time zone)"},
		{Key: contactsync.AttrCheckOut, Name: "Check-out", Type: "date", Description: "The stay's check-out date (listing's time zone)"},
		{Key: contactsync.AttrListing, Name: "Listing", Type: "text", Description: "The stay's listing"},
		{Key: contactsync.AttrReservationStatus, Name: "Reservation status", Type: "text", Description: "The stay's reservation status in Guesty"},
	}
}

// Load reads a desired state from path, expanding ${NAME} and
// ${NAME:-default} from lookup, adds what the code needs (RequiredLabels,
// RequiredAttributes) and checks it.
func Load(path string, lookup config.LookupFunc) (State, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return State{}, fmt.Errorf("chatwoot setup file: %w", err)
	}
	st, err := Parse(raw, lookup)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// Parse is Load's work on the file's content.
func Parse(raw []byte, lookup config.LookupFunc) (State, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return State{}, err
	}
	var missing []string
	expandNode(&doc, lookup, &missing)
	if len(missing) > 0 {
		slices.Sort(missing)
		return State{}, fmt.Errorf("unset: %s (environment variables the file names)", strings.Join(slices.Compact(missing), ", "))
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return State{}, err
	}
	var st State
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&st); err != nil {
		return State{}, err
	}
	st.addRequired()
	if err := st.Validate(); err != nil {
		return State{}, err
	}
	return st, nil
}

// expandNode replaces the placeholders of every scalar; unset required
// names are collected.
func expandNode(n *yaml.Node, lookup config.LookupFunc, missing *[]string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = expand(n.Value, lookup, missing)
		// Resolved again as written out: "993" becomes a port, "true" a
		// switch, and either decodes into a text field as its text.
		n.Tag, n.Style = "", 0
	}
	for _, c := range n.Content {
		expandNode(c, lookup, missing)
	}
}

// expand replaces ${NAME} and ${NAME:-default} in s; a default may hold
// placeholders itself (${WEBSITE:-https://www.${DOMAIN}}).
func expand(s string, lookup config.LookupFunc, missing *[]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		depth, j := 0, i
		for ; j < len(s); j++ {
			if strings.HasPrefix(s[j:], "${") {
				depth++
				j++
			} else if s[j] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j >= len(s) { // unclosed: kept as written
			b.WriteString(s[i:])
			return b.String()
		}
		name, def, hasDef := strings.Cut(s[i+2:j], ":-")
		switch v, ok := lookup(name); {
		case !validName.MatchString(name):
			b.WriteString(s[i : j+1])
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(expand(def, lookup, missing))
		default:
			*missing = append(*missing, name)
		}
		s = s[j+1:]
	}
}

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// addRequired adds the labels and attributes the code uses that the file
// leaves out.
func (st *State) addRequired() {
	for _, l := range RequiredLabels() {
		if !slices.ContainsFunc(st.Labels, func(x Label) bool { return strings.EqualFold(x.Title, l.Title) }) {
			st.Labels = append(st.Labels, l)
		}
	}
	for _, a := range RequiredAttributes() {
		if !slices.ContainsFunc(st.ContactAttributes, func(x Attribute) bool { return x.Key == a.Key }) {
			st.ContactAttributes = append(st.ContactAttributes, a)
		}
	}
}

// Validate checks what Chatwoot would refuse, or what would leave the
// functions without what they need, before any request.
func (st State) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(st.Account.Name) == "" {
		bad("account.name is empty")
	}
	if st.ServiceUser.Name == "" || !strings.Contains(st.ServiceUser.Email, "@") {
		bad("service_user needs a name and an e-mail address")
	}
	emails := map[string]bool{strings.ToLower(st.ServiceUser.Email): true}
	for _, a := range st.Agents {
		if !strings.Contains(a.Email, "@") {
			bad("agent %q: no e-mail address", a.Name)
		}
		if a.Role != "" && a.Role != "agent" && a.Role != "administrator" {
			bad("agent %s: role %q: the community edition has agent and administrator (custom roles are Enterprise)", a.Email, a.Role)
		}
		emails[strings.ToLower(a.Email)] = true
	}
	member := func(where, email string) {
		if !emails[strings.ToLower(email)] {
			bad("%s: %s is not the service user or one of agents", where, email)
		}
	}
	for _, t := range st.Teams {
		if strings.TrimSpace(t.Name) == "" {
			bad("a team has no name")
		}
		for _, m := range t.Members {
			member("team "+t.Name, m)
		}
	}
	teams := map[string]bool{}
	for _, t := range st.Teams {
		teams[strings.ToLower(strings.TrimSpace(t.Name))] = true
	}
	names := map[string]bool{}
	contact, alerts, urgent, bots := 0, 0, 0, 0
	for _, in := range st.Inboxes {
		where := fmt.Sprintf("inbox %q", in.Name)
		switch {
		case strings.TrimSpace(in.Name) == "":
			bad("an inbox has no name")
		case names[in.Name]:
			bad("%s appears twice", where)
		}
		names[in.Name] = true
		if _, ok := channelTypes[in.Type]; !ok {
			bad("%s: type %q is not web_widget, email or api", where, in.Type)
		}
		for _, m := range in.Members {
			member(where, m)
		}
		for _, t := range in.Teams {
			if !teams[strings.ToLower(strings.TrimSpace(t))] {
				bad("%s: team %q is not one of teams", where, t)
			}
		}
		if in.ContactSync {
			contact++
			if in.Type == Email {
				bad("%s: contact sync needs a web widget or API inbox (an e-mail inbox needs every contact's e-mail)", where)
			}
		}
		if in.Alerts {
			alerts++
			if in.Type != API {
				bad("%s: alerts go to an API inbox", where)
			}
		}
		if in.UrgentCalls {
			urgent++
			switch {
			case in.Type != API:
				bad("%s: urgent calls go to an API inbox (nothing there can reach the guest)", where)
			case in.AgentBot != nil && *in.AgentBot:
				bad("%s: the urgent-calls inbox must not have the agent bot (chatwoot-reply would hand each urgent conversation over at once)", where)
			}
		}
		if want, _ := in.bot(); want {
			bots++
		}
		if in.IdentityValidation && in.Type == Email {
			bad("%s: identity validation is for web widget and API inboxes", where)
		}
		switch in.Type {
		case WebWidget:
			if u, err := url.Parse(in.WebsiteURL); err != nil || u.Host == "" {
				bad("%s: website_url %q is not a URL", where, in.WebsiteURL)
			}
		case Email:
			if in.Email != "" && (in.IMAP == nil || in.SMTP == nil || in.IMAP.Address == "" || in.SMTP.Address == "") {
				bad("%s: an e-mail inbox needs an imap (in) and an smtp (out) address", where)
			}
		}
	}
	if contact > 1 || alerts > 1 || urgent > 1 {
		bad("one inbox at most may have contact_sync, one alerts and one urgent_calls")
	}
	if bots > 0 {
		u, err := url.Parse(st.AgentBot.URL)
		switch {
		case st.AgentBot.Name == "":
			bad("agent_bot.name is empty")
		case err != nil || u.Scheme != "https" || u.Host == "":
			bad("agent_bot.url %q: llm-query's public https route (Chatwoot refuses private addresses)", st.AgentBot.URL)
		case strings.TrimSuffix(u.Path, "/") != BotPath:
			bad("agent_bot.url %q does not end in %s", st.AgentBot.URL, BotPath)
		}
	}
	for _, l := range st.Labels {
		if !labelTitle.MatchString(strings.ToLower(l.Title)) {
			bad("label %q: letters, digits, - and _ only", l.Title)
		}
	}
	for _, a := range st.ContactAttributes {
		if a.Key == "" || a.Name == "" || !slices.Contains(displayTypes, a.Type) {
			bad("contact attribute %q: needs key, name and a type of %s", a.Key, strings.Join(displayTypes, ", "))
		}
	}
	return errors.Join(errs...)
}

var (
	labelTitle   = regexp.MustCompile(`^[\p{L}\p{N}_-]+$`)
	displayTypes = []string{"text", "number", "currency", "percent", "link", "date", "list", "checkbox"}
)
