// Package chatwootsetup sets a Chatwoot account up as code: the account,
// an administrator to act as, agents and their roles, teams, inboxes (a
// web widget with identity validation, e-mail with IMAP in and SMTP out,
// an API inbox for operations alerts, an API inbox without the bot for
// urgent missed calls), the labels and contact attributes
// the code uses, and the agent bot in the account with its secret. It
// reads what is there and writes only what differs, so a second run makes
// no write and a partly set-up account is completed; Inspect does the
// same reading for `concierge doctor` without writing.
//
// Chatwoot 4.14.2 was read for every call (config/routes.rb; the Platform
// API's controllers and its permissible model; the account API's
// controllers, policies, models and views). The Platform API creates
// accounts and users and makes memberships, and sees only what its app
// created; everything inside the account goes through the account API
// with the administrator's token. What no API sets — installation
// branding, the account setting keep_pending_on_bot_failure, closing the
// first-run onboarding — is read back and reported as Console: the
// chatwoot_setup Ansible role sets it in the Rails console.
package chatwootsetup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/harborstays/concierge/lib/chatwoot"
)

// Options configure a run.
type Options struct {
	// BaseURL is Chatwoot's root (CHATWOOT_URL).
	BaseURL string
	// PlatformToken is the platform app's access token
	// (CHATWOOT_PLATFORM_TOKEN).
	PlatformToken string
	// AccountID, when set, is the account to set up (one the platform app
	// created or was granted); 0 finds the account by name among the
	// app's, or creates it.
	AccountID int64
	State     State
	// IMAPPassword and SMTPPassword are the e-mail inbox's logins'.
	IMAPPassword, SMTPPassword string
	HTTPClient                 *http.Client
}

// Outputs are what the functions and the website need from the account.
type Outputs struct {
	AccountID int64            `json:"account_id"`
	Inboxes   map[string]int64 `json:"inboxes"`
	// ContactInboxID is the contact_sync inbox (CHATWOOT_CONTACT_INBOX_ID).
	ContactInboxID int64 `json:"contact_inbox_id,omitempty"`
	AgentBotID     int64 `json:"agent_bot_id,omitempty"`
	// UrgentInboxID is the urgent_calls inbox: chatwoot-reply's
	// URGENT_CALL_INBOX_ID (lib/urgentcall); absent when the file has none.
	UrgentInboxID int64 `json:"urgent_inbox_id,omitempty"`
	// Branding is the setup file's, for the role's Rails runner to set.
	Branding map[string]string `json:"branding,omitempty"`
	// Secrets: never in the JSON file; WriteOutputs writes each to its own
	// file.
	WebhookSecret      string `json:"-"` // the bot's secret: chatwoot-webhook-secret (llm-query)
	BotToken           string `json:"-"` // the bot's access token: chatwoot-api-token
	AdminToken         string `json:"-"` // the service user's: chatwoot-contacts-token
	WidgetHMACToken    string `json:"-"` // the identity-validated widget's: the website signs identifiers with it
	OpsInboxIdentifier string `json:"-"` // the alerts inbox's identifier: alert-bridge
}

// Errors a caller may tell apart.
var (
	// ErrPlatformToken: Chatwoot does not know the platform token.
	ErrPlatformToken = errors.New(SettingPlatformToken.Name + " (secret " + SettingPlatformToken.Secret + "): Chatwoot refused the platform app token")
	// ErrNotPermitted: the account exists but the platform app may not
	// manage it (it did not create it).
	ErrNotPermitted = errors.New("the platform app may not manage this account")
	// ErrVersion: Chatwoot is older than this build needs.
	ErrVersion = errors.New("chatwoot too old")
)

// Run sets the account up and returns what it did and the outputs.
func Run(ctx context.Context, o Options) (Report, error) {
	rep := Report{URL: o.BaseURL}
	if o.PlatformToken == "" {
		return rep, fmt.Errorf("%s (secret %s) is not set", SettingPlatformToken.Name, SettingPlatformToken.Secret)
	}
	if err := o.State.Validate(); err != nil {
		return rep, err
	}
	plat, err := newAPI(o.BaseURL, o.PlatformToken, o.HTTPClient)
	if err != nil {
		return rep, err
	}
	if rep.Version, err = version(ctx, plat); err != nil {
		return rep, err
	}
	acct, err := ensureAccount(ctx, plat, o, &rep)
	if err != nil {
		return rep, err
	}
	token, err := ensureServiceUser(ctx, plat, acct, o.State.ServiceUser, &rep)
	if err != nil {
		return rep, err
	}
	app, err := newAPI(o.BaseURL, token, o.HTTPClient)
	if err != nil {
		return rep, err
	}
	a := &account{api: app, id: acct, state: o.State, imapPassword: o.IMAPPassword, smtpPassword: o.SMTPPassword, rep: &rep}
	if err := a.apply(ctx); err != nil {
		return rep, err
	}
	rep.Outputs = a.out
	rep.Outputs.AccountID = acct
	rep.Outputs.AdminToken = token
	rep.Outputs.Branding = o.State.Branding
	return rep, nil
}

// version reads GET /api and checks it against chatwoot.MinVersion.
func version(ctx context.Context, a *api) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	if err := a.call(ctx, http.MethodGet, "/api", nil, &v); err != nil {
		return "", fmt.Errorf("%s: %w", chatwoot.SettingURL.Name, err)
	}
	if !chatwoot.VersionAtLeast(v.Version, chatwoot.MinVersion) {
		return v.Version, fmt.Errorf("%w: Chatwoot %s; this build needs %s or later (signed bot webhooks, the bot's labels)", ErrVersion, v.Version, chatwoot.MinVersion)
	}
	return v.Version, nil
}

const platformPath = "/platform/api/v1/"

// platformError names the setting or the fix of a Platform API refusal:
// PlatformController answers 401 "Invalid access_token" for a token that
// is not a platform app's, and 401 "Non permissible resource" for what
// the app did not create.
func platformError(err error, what string) error {
	var ae *chatwoot.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		return fmt.Errorf("%s: %w", what, err)
	}
	if strings.Contains(ae.Message, "permissible") {
		return fmt.Errorf("%s: %w (%v)", what, ErrNotPermitted, err)
	}
	return fmt.Errorf("%w (%v): create a platform app (the chatwoot_setup Ansible role does, or Super Admin > Platform Apps) and put its token there", ErrPlatformToken, err)
}

type platformAccount struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Locale string `json:"locale"`
}

// ensureAccount finds (by id or by name) or creates the account.
func ensureAccount(ctx context.Context, plat *api, o Options, rep *Report) (int64, error) {
	want := o.State.Account
	var cur platformAccount
	if o.AccountID > 0 {
		err := plat.call(ctx, http.MethodGet, platformPath+"accounts/"+strconv.FormatInt(o.AccountID, 10), nil, &cur)
		switch {
		case chatwoot.StatusOf(err) == http.StatusNotFound:
			return 0, fmt.Errorf("account %d does not exist in Chatwoot (leave the account id unset to create %q)", o.AccountID, want.Name)
		case err != nil:
			err = platformError(err, fmt.Sprintf("account %d", o.AccountID))
			if errors.Is(err, ErrNotPermitted) {
				err = fmt.Errorf("%w: Chatwoot lets a platform app manage only the accounts it created; grant it this one (the chatwoot_setup role's chatwoot_setup_adopt_account, or in the Rails console PlatformAppPermissible.create!(platform_app: <the app>, permissible: Account.find(%d)))", err, o.AccountID)
			}
			return 0, err
		}
	} else {
		var all []platformAccount
		if err := plat.call(ctx, http.MethodGet, platformPath+"accounts", nil, &all); err != nil {
			return 0, platformError(err, "list the platform app's accounts")
		}
		var found []platformAccount
		for _, x := range all {
			if x.Name == want.Name {
				found = append(found, x)
			}
		}
		switch len(found) {
		case 0:
			body := map[string]any{"name": want.Name}
			if want.Locale != "" {
				body["locale"] = want.Locale
			}
			if err := plat.call(ctx, http.MethodPost, platformPath+"accounts", body, &cur); err != nil {
				return 0, platformError(err, "create account "+want.Name)
			}
			rep.add("account", want.Name, Created, "id %d", cur.ID)
			return cur.ID, nil
		case 1:
			cur = found[0]
		default:
			return 0, fmt.Errorf("the platform app has %d accounts named %q: set the account id to choose one", len(found), want.Name)
		}
	}
	patch := map[string]any{}
	if cur.Name != want.Name {
		patch["name"] = want.Name
	}
	if want.Locale != "" && cur.Locale != want.Locale {
		patch["locale"] = want.Locale
	}
	if len(patch) == 0 {
		rep.add("account", want.Name, Unchanged, "id %d", cur.ID)
		return cur.ID, nil
	}
	if err := plat.call(ctx, http.MethodPatch, platformPath+"accounts/"+strconv.FormatInt(cur.ID, 10), patch, nil); err != nil {
		return 0, platformError(err, "update account "+want.Name)
	}
	rep.add("account", want.Name, Updated, "id %d: %s", cur.ID, keys(patch))
	return cur.ID, nil
}

type platformUser struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	AccessToken string `json:"access_token"`
}

type accountUser struct {
	UserID int64  `json:"user_id"`
	Role   string `json:"role"`
}

// ensureServiceUser finds the service user among the account's members
// the app may read, or creates it (UsersController#create returns the
// user with that e-mail if there is one), and makes it an administrator.
// It returns the user's access token.
func ensureServiceUser(ctx context.Context, plat *api, acct int64, want ServiceUser, rep *Report) (string, error) {
	base := platformPath + "accounts/" + strconv.FormatInt(acct, 10) + "/account_users"
	var members []accountUser
	if err := plat.call(ctx, http.MethodGet, base, nil, &members); err != nil {
		return "", platformError(err, "list the members of account "+strconv.FormatInt(acct, 10))
	}
	email := strings.ToLower(want.Email)
	var user platformUser
	role := ""
	for _, m := range members {
		var u platformUser
		err := plat.call(ctx, http.MethodGet, platformPath+"users/"+strconv.FormatInt(m.UserID, 10), nil, &u)
		if err != nil {
			if errors.Is(platformError(err, ""), ErrNotPermitted) {
				continue // a person's account, not the app's
			}
			return "", platformError(err, "read a member of the account")
		}
		if strings.EqualFold(u.Email, email) {
			user, role = u, m.Role
			break
		}
	}
	action := Unchanged
	if user.ID == 0 {
		body := map[string]any{"name": want.Name, "email": email, "password": password()}
		if err := plat.call(ctx, http.MethodPost, platformPath+"users", body, &user); err != nil {
			return "", platformError(err, "create the service user "+email)
		}
		action = Created
	}
	if role != "administrator" {
		if err := plat.call(ctx, http.MethodPost, base, map[string]any{"user_id": user.ID, "role": "administrator"}, nil); err != nil {
			return "", platformError(err, "make "+email+" an administrator")
		}
		if action == Unchanged {
			action = Updated
		}
	}
	rep.add("service user", email, action, "administrator of account %d", acct)
	if user.AccessToken == "" {
		return "", fmt.Errorf("chatwoot did not show the service user's access token")
	}
	return user.AccessToken, nil
}

// password is a throwaway password Devise accepts (upper, lower, digit,
// special): nobody signs in as the service user, it acts by its token.
func password() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "Aa1!" + hex.EncodeToString(b[:])
}
