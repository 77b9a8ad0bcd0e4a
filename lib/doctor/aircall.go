package doctor

import (
	"context"
	"errors"
	"net/http"

	"github.com/harborstays/concierge/lib/aircall/aircallapi"
	"github.com/harborstays/concierge/lib/config"
)

func (d *Doctor) aircallAPI(ctx context.Context, cfg *config.Config) Result {
	id, token := cfg.String(aircallapi.SettingID), cfg.String(aircallapi.SettingToken)
	base := cfg.URL(aircallapi.SettingURL)
	if err := cfg.Err(); err != nil {
		return settingsFailed(err)
	}
	switch {
	case id == "" && token == "":
		return LocalDefault("no Aircall API: stt transcribes a call only while its signed recording link works (AIRCALL_API_ID unset)")
	case id == "":
		return Failed("AIRCALL_API_TOKEN is set without AIRCALL_API_ID: stt does not use the API", "AIRCALL_API_ID: the API id paired with the token (Aircall > Integrations & API > API keys)")
	case token == "":
		return Failed("AIRCALL_API_ID is set without AIRCALL_API_TOKEN: stt does not use the API", "AIRCALL_API_TOKEN (secret aircall-api-token): the token paired with AIRCALL_API_ID")
	}
	api := aircallapi.New(base, id, token, d.o.HTTPClient, nil)
	err := api.Ping(ctx)
	switch {
	case err == nil:
		return Pass("credentials accepted by %s (ping: pong)", hostOf(base))
	case errors.Is(err, aircallapi.ErrUnauthorized):
		return Failed(err.Error(), "AIRCALL_API_ID and AIRCALL_API_TOKEN (secret aircall-api-token): Aircall refused the pair (Integrations & API > API keys)")
	case aircallapi.StatusOf(err) == http.StatusTooManyRequests:
		return Failed(err.Error(), "the account's API rate limit is spent: run the doctor again in a minute")
	}
	return Failed(err.Error(), "AIRCALL_API_URL: check that "+hostOf(base)+" answers from here")
}
