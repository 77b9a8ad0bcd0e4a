package answer

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Topic is a subject the assistant never settles itself: a person must.
type Topic struct {
	Name     string
	Keywords []string
}

// Policy holds the keyword lists that decide hand-offs before any model is
// asked. Keywords match whole words after lower-casing and removing
// accents; a trailing * matches any ending ("refund*" matches "refunded").
type Policy struct {
	Person  []string
	Topics  []Topic
	Secrets []string // questions about door codes, Wi-Fi, the exact address
	// Stay: questions about the guest's own booking (dates, times,
	// arrival); an unverified contact is asked for proof instead.
	Stay []string
}

// DefaultTopics is the configurable list of restricted topics with keywords
// in English, Spanish, French, German, Italian and Portuguese.
const DefaultTopics = "refund:refund*|money back|reembols*|devoluci*|rembours*|ruckerstatt*|erstatt*|rimbors*;" +
	"discount:discount*|cheaper|descuent*|rebaja|reduction*|remise|rabatt*|sconto|desconto;" +
	"price:price*|cost*|how much|fee|fees|precio*|cuanto cuesta|prix|combien|preis*|kosten|prezzo|quanto costa|preco*;" +
	"date change:change the date*|change my date*|change our date*|extend*|extra night*|shorten*|cambiar las fechas|cambiar fecha*|modifier les dates|changer les dates|datum andern|verlanger*|cambiare le date|mudar as datas;" +
	"cancellation:cancel*|cancelar|cancelacion|annul*|stornier*|cancellar*|disdett*;" +
	"damage:damage*|broke|broken|break|breakage|dano*|roto|rota|casse*|endommag*|kaputt|beschadig*|rotto|danneggi*|quebrad*;" +
	"complaint:complain*|complaint*|dirty|filthy|unacceptable|disappointed|queja*|reclamacion|sucio|plainte*|inacceptable|beschwerde*|schmutzig|reclamo|sporco|reclamacao|sujo;" +
	"emergency or safety:emergency|fire|smoke|gas leak|flood*|injur*|hurt|police|ambulance|unsafe|danger*|burglar*|emergencia|incendio|humo|fuga de gas|urgence|feu|fumee|notfall|feuer|rauch|polizei|emergenza|fumo|incendio|emergencia|fogo;" +
	"early check-in or late checkout:early check-in|early check in|check in early|checkin early|early arrival|arrive early|late checkout|late check-out|late check out|check out late|checkout late|llegar antes|entrada anticipada|salida tardia|arrivee anticipee|depart tardif|fruher einchecken|spater auschecken|fruh anreisen|check-in anticipato|check-out posticipato|late check-out"

// DefaultPerson are ways of asking for a human.
const DefaultPerson = "human|a person|real person|someone|somebody|agent|operator|staff|manager|call me|speak to|talk to|persona|humano|alguien|hablar con|une personne|quelqu'un|parler a|mensch|mitarbeiter|jemand|sprechen|una persona|qualcuno|parlare con|atendente|falar com"

// DefaultSecrets are ways of asking for what is shared only during a stay.
const DefaultSecrets = "wifi|wi-fi|wlan|password*|door code|code|codes|keypad|lockbox|key box|keys|address|contrasena|clave|codigo|direccion|mot de passe|adresse|passwort|turcode|schlussel|indirizzo|chiave|senha|endereco"

// DefaultStay are ways of asking about one's own booking. A bare
// "booking" is left out: a prospect asking how to book is no guest to
// verify.
const DefaultStay = "my booking|my reservation|our booking|our reservation|my stay|our stay|check-in|check in|checkin|check-out|check out|checkout|arrival|arrive|departure|my dates|our dates|" +
	"mi reserva|nuestra reserva|mi estancia|llegada|salida|ma reservation|notre reservation|mon sejour|arrivee|depart|" +
	"meine buchung|unsere buchung|aufenthalt|anreise|abreise|la mia prenotazione|soggiorno|arrivo|partenza|minha reserva|estadia|chegada|saida"

// ParsePolicy reads "topic:kw|kw;topic:kw" plus the person and secret lists.
func ParsePolicy(topics, person, secrets, stay string) (Policy, error) {
	p := Policy{Person: splitList(person), Secrets: splitList(secrets), Stay: splitList(stay)}
	for _, part := range strings.Split(topics, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, kws, ok := strings.Cut(part, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(kws) == "" {
			return p, fmt.Errorf("topic %q: want name:keyword|keyword", part)
		}
		p.Topics = append(p.Topics, Topic{Name: strings.TrimSpace(name), Keywords: splitList(kws)})
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, k := range strings.Split(s, "|") {
		if k = normalize(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// normalize lower-cases, strips accents and turns punctuation into spaces
// (apostrophes and hyphens are kept inside words).
func normalize(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '-' || r == '*':
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// matches reports whether normalized text contains keyword kw as whole
// words (kw may end with * for a prefix).
func matches(text, kw string) bool {
	prefix := strings.HasSuffix(kw, "*")
	kw = strings.TrimSuffix(kw, "*")
	padded := " " + text + " "
	for i := 0; ; {
		j := strings.Index(padded[i:], " "+kw)
		if j < 0 {
			return false
		}
		end := i + j + 1 + len(kw)
		if prefix || padded[end] == ' ' {
			return true
		}
		i = i + j + 1
	}
}

func anyMatch(text string, kws []string) bool {
	for _, k := range kws {
		if matches(text, k) {
			return true
		}
	}
	return false
}

// Topic returns the restricted topic text is about, if any.
func (p Policy) Topic(text string) (string, bool) {
	t := normalize(text)
	for _, topic := range p.Topics {
		if anyMatch(t, topic.Keywords) {
			return topic.Name, true
		}
	}
	return "", false
}

// AsksForPerson reports whether text asks for a human.
func (p Policy) AsksForPerson(text string) bool { return anyMatch(normalize(text), p.Person) }

// AsksForSecret reports whether text asks for stay-only details.
func (p Policy) AsksForSecret(text string) bool { return anyMatch(normalize(text), p.Secrets) }

// AsksForStay reports whether text asks about the guest's own booking.
func (p Policy) AsksForStay(text string) bool { return anyMatch(normalize(text), p.Stay) }
