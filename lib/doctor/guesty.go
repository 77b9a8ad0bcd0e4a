package doctor

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/guesty"
)

// guestyAPI checks the Guesty OAuth application with one read (the first
// listing's id). The token comes from the database the functions share
// when it is reachable and migrated, so the check spends none of the
// account's five daily tokens while a stored one is valid.
func (d *Doctor) guestyAPI(ctx context.Context, cfg *config.Config) Result {
	id, secret := cfg.String(guesty.ClientID), cfg.String(guesty.ClientSecret)
	base := cfg.URL(guesty.APIURL)
	if err := cfg.Err(); err != nil {
		return settingsFailed(err)
	}
	switch {
	case id == "" && secret == "":
		return LocalDefault("no Guesty API: lean v2 reservation events keep only what they carry, and guesty-import cannot run (GUESTY_CLIENT_ID unset)")
	case id == "":
		return Failed("GUESTY_CLIENT_SECRET is set without GUESTY_CLIENT_ID", "GUESTY_CLIENT_ID (secret guesty-client-id): the client id of the same OAuth application")
	case secret == "":
		return Failed("GUESTY_CLIENT_ID is set without GUESTY_CLIENT_SECRET", "GUESTY_CLIENT_SECRET (secret guesty-client-secret): the application's secret (shown once, when created)")
	}
	o := guesty.APIOptions{BaseURL: base, ClientID: id, ClientSecret: secret, HTTP: d.o.HTTPClient}
	shared := "a token of its own (no database: one of the account's five a day)"
	if pg := d.database(ctx); pg.pool != nil && pg.err == nil {
		var ok bool
		if err := pg.pool.QueryRow(ctx, "SELECT to_regclass('guesty_tokens') IS NOT NULL").Scan(&ok); err == nil && ok {
			o.DB = pg.pool
			shared = "the token the functions share"
		}
	}
	api := guesty.NewAPI(o)
	var n int
	err := api.List(ctx, "/v1/listings", url.Values{"fields": {"_id"}, "limit": {"1"}}, 0, func(p guesty.Page, _ int) error {
		n = p.Count
		return errStop
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	switch {
	case err == nil:
		return Pass("credentials accepted by %s with %s; %d listings", hostOf(base), shared, n)
	case errors.Is(err, guesty.ErrUnauthorized) || guesty.StatusOf(err) == http.StatusUnauthorized || guesty.StatusOf(err) == http.StatusBadRequest:
		return Failed(err.Error(), "GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (secrets guesty-client-id, guesty-client-secret): Guesty refused the pair (Integrations > Developer tools > OAuth applications)")
	case errors.Is(err, guesty.ErrForbidden):
		return Failed(err.Error(), "give the OAuth application read access to listings, reservations and guests in Guesty")
	case guesty.StatusOf(err) == http.StatusTooManyRequests:
		return Failed(err.Error(), "Guesty's rate or daily token limit is spent: run the doctor again later; if tokens run out daily, a process is not sharing the stored token")
	}
	return Failed(err.Error(), "GUESTY_API_URL: check that "+hostOf(base)+" answers from here")
}

// errStop ends a list walk after its first page.
var errStop = errors.New("first page read")
