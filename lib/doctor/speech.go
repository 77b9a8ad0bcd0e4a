package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/speech"
)

const localSpeech = "pocketsphinx, flite and espeak-ng (AZURE_SPEECH_KEY unset)"

type azureInfo struct {
	az     *speech.Azure
	result Result
}

// azure builds the Azure engine the way stt and tts do and checks its key
// once, for both Azure checks.
func (d *Doctor) azure(ctx context.Context) azureInfo {
	return d.azureKey.get(func() azureInfo {
		cfg := config.New(d.o.Lookup)
		eng, err := speech.FromConfig(cfg)
		if err == nil {
			err = cfg.Err()
		}
		if err != nil {
			return azureInfo{result: settingsFailed(err)}
		}
		az, ok := eng.Synthesizer.(*speech.Azure)
		if !ok {
			return azureInfo{result: LocalDefault(localSpeech)}
		}
		if d.o.HTTPClient != nil {
			az.HTTP = d.o.HTTPClient
		}
		custom := cfg.String(speech.AzureEndpoint) != ""
		host := hostOf(az.TokenURL())
		_, err = az.IssueToken(ctx)
		var dns *net.DNSError
		switch {
		case err == nil:
			where := "region " + az.Region
			if custom {
				where = host + " (AZURE_SPEECH_ENDPOINT)"
			}
			return azureInfo{az: az, result: Pass("key accepted by %s: a token was issued", where)}
		case errors.Is(err, speech.ErrKeyRefused):
			fix := fmt.Sprintf("AZURE_SPEECH_KEY (secret azure-speech-key) is not a key of a Speech resource in %s: copy Key 1 from the resource's Keys and Endpoint page, or set AZURE_SPEECH_REGION to the resource's region", az.Region)
			return azureInfo{result: Failed(fmt.Sprintf("%s refused the key: %s", host, strings.TrimPrefix(err.Error(), "azure token: ")), fix)}
		case errors.As(err, &dns) && dns.IsNotFound && !custom:
			return azureInfo{result: Failed(fmt.Sprintf("%s does not resolve: %q is not an Azure region", host, az.Region),
				"AZURE_SPEECH_REGION: the Speech resource's region, e.g. westeurope")}
		case custom:
			return azureInfo{result: Failed(err.Error(), "AZURE_SPEECH_ENDPOINT: check that it is reachable from here, or leave it empty for the regional hosts")}
		}
		return azureInfo{result: Failed(err.Error(), fmt.Sprintf("check that %s is reachable from here (AZURE_SPEECH_REGION)", host))}
	})
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

func (d *Doctor) azureKeyCheck(ctx context.Context, _ *config.Config) Result {
	return d.azure(ctx).result
}

func (d *Doctor) azureVoices(ctx context.Context, _ *config.Config) Result {
	a := d.azure(ctx)
	switch {
	case a.result.State == Skip:
		return Skipped("not checked: AZURE_SPEECH_KEY unset")
	case a.az == nil:
		return Skipped("not checked: the key was not accepted (see azure speech key)")
	}
	list, err := a.az.ListVoices(ctx)
	if err != nil {
		return Failed(err.Error(), fmt.Sprintf("check that %s answers (AZURE_SPEECH_REGION, AZURE_SPEECH_ENDPOINT)", hostOf(a.az.VoicesURL())))
	}
	want := a.az.ConfiguredVoices()
	if missing := a.az.MissingVoices(list); len(missing) > 0 {
		return Failed(fmt.Sprintf("%d of %d configured voices not offered in %s: %s", len(missing), len(want), a.az.Region, strings.Join(missing, ", ")),
			fmt.Sprintf("AZURE_SPEECH_VOICES: pick ShortNames from the region's list (GET %s)", a.az.VoicesURL()))
	}
	return Pass("all %d configured voices offered in %s (of %d)", len(want), a.az.Region, len(list))
}
