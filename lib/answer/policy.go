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
// accents; a trailing * matches any ending ("refund*" matches "refunded"),
// a leading one any beginning ("*feier*" matches "Geburtstagsfeier").
type Policy struct {
	Person  []string
	Topics  []Topic
	Secrets []string // questions about door codes, Wi-Fi, the exact address
	// Stay: questions about the guest's own booking (dates, times,
	// arrival); an unverified contact is asked for proof instead.
	Stay []string
}

// DefaultTopics is the configurable list of restricted topics with keywords
// in English, Spanish, French, German, Italian and Portuguese. The first
// topic a message matches names the hand-off, so an emergency comes first
// ("my daughter is hurt" is no damage to the flat).
const DefaultTopics = "emergency or safety:emergency|fire|smoke|gas leak|smell gas|flood*|injur*|hurt|police|ambulance|doctor|hospital|unsafe|danger*|burglar*|" +
	"emergencia|incendio|humo|fuga de gas|olor a gas|herid*|medico|hospital|urgence|feu|fumee|fuite de gaz|odeur de gaz|blesse*|medecin|hopital|" +
	"notfall|feuer|rauch|gasleck|gasgeruch|polizei|verletz*|arzt|krankenhaus|emergenza|fumo|perdita di gas|fuga di gas|odore di gas|ferit*|ospedale|" +
	"incendio|emergencia|fogo|vazamento de gas|fuga de gas|cheiro de gas|ferid*;" +
	"locked out:locked out|lost the key*|lost our key*|lost my key*|can't get in|cannot get in|no podemos entrar|perdimos la llave*|perdi la llave*|" +
	"on ne peut pas entrer|perdu la cle|perdu les cles|perdu nos cles|kommen nicht rein|verloren|non riusciamo a entrare|perso le chiavi|perso la chiave|" +
	"nao conseguimos entrar|perdemos a chave|perdi a chave|perdemos as chaves;" +
	"refund:refund*|money back|reembols*|devoluci*|rembours*|ruckerstatt*|erstatt*|rimbors*;" +
	"discount:discount*|cheaper|descuent*|rebaja|reduction*|remise|rabatt*|sconto|desconto;" +
	"price:price*|cost*|how much|fee|fees|precio*|cuanto cuesta|prix|combien|preis*|kosten|prezzo|quanto costa|preco*;" +
	"payment:payment*|paid|charged|double charge*|extra charge*|overcharg*|invoice*|receipt*|deposit*|credit card|" +
	"pago*|cobro*|cobrad*|cobrar*|factura*|tarjeta de credito|fianza|paiement*|paye|facture*|debite*|carte bancaire|caution|" +
	"zahlung*|bezahlt|*rechnung*|abgebucht|kaution|kreditkarte|pagamento*|pagato|fattura*|addebit*|carta di credito|cauzione|" +
	"fatura*|cartao de credito|caucao;" +
	"date change:change the date*|change my date*|change our date*|extend*|extra night*|shorten*|cambiar las fechas|cambiar fecha*|modifier les dates|changer les dates|datum andern|verlanger*|cambiare le date|mudar as datas;" +
	"cancellation:cancel*|cancelar|cancelacion|annul*|stornier*|cancellar*|disdett*;" +
	"damage:damage*|broke|broken|break|breakage|doesn't work|does not work|not working|stopped working|dano*|roto|rota|no funciona|" +
	"casse*|endommag*|ne marche pas|ne marche plus|ne fonctionne pas|ne fonctionne plus|kaputt|beschadig*|funktioniert nicht|geht nicht|" +
	"rotto|danneggi*|non funziona|quebrad*|nao funciona;" +
	"complaint:complain*|complaint*|dirty|filthy|unacceptable|disappointed|queja*|reclamacion|sucio|plainte*|inacceptable|beschwerde*|schmutzig|reclamo|sporco|reclamacao|sujo;" +
	"early check-in or late checkout:early check-in|early check in|check in early|checkin early|early arrival|arrive early|late checkout|late check-out|late check out|check out late|checkout late|" +
	"llegar antes|entrada anticipada|check-in anticipado|check-in temprano|check-in antes|salida tardia|salir mas tarde|check-out tardio|" +
	"arrivee anticipee|arriver plus tot|check-in anticipe|depart tardif|partir plus tard|check-out tardif|" +
	"fruher einchecken|fruher anreisen|fruh anreisen|spater auschecken|spater abreisen|" +
	"check-in anticipato|arrivare prima|check-out posticipato|check-out tardivo|partire piu tardi|late check-out|" +
	"check-in antecipado|chegar mais cedo|check-in mais cedo|check-out tardio|check-out mais tarde|sair mais tarde"

// DefaultPerson are ways of asking for a human.
const DefaultPerson = "human|a person|real person|someone|somebody|agent|operator|staff|manager|call me|speak to|talk to|persona|humano|alguien|hablar con|une personne|quelqu'un|parler a|mensch|mitarbeiter|jemand|sprechen|una persona|qualcuno|parlare con|atendente|falar com"

// DefaultSecrets are ways of asking for what is shared only during a stay.
const DefaultSecrets = "wifi|wi-fi|wi fi|wlan|password*|door code|code|codes|keypad|lockbox|lock box|key box|keys|address|" +
	"contrasena|clave|codigo|llave|llaves|caja de llaves|direccion|mot de passe|code wifi|digicode|cle|cles|boite a cles|adresse|" +
	"passwort|kennwort|turcode|schlussel|schlusselbox|indirizzo|chiave|chiavi|codice|senha|chave|chaves|endereco"

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
// (hyphens are kept inside words). Apostrophes separate words, so an
// elided article does not hide the word after it: "l'adresse" reads
// "l adresse", "dov'è" reads "dov e", and a keyword written with one
// ("quelqu'un") is normalized the same way.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '*':
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// matches reports whether normalized text contains keyword kw as whole
// words (kw may end with * for a prefix).
func matches(text, kw string) bool { return len(spans(text, kw, 1)) > 0 }

// spans returns where normalized text holds keyword kw as whole words, as
// [start, end) byte offsets into text, at most max of them (0: all). A
// prefix keyword's span runs to the end of the word it begins.
//
// A hyphen and a space are the same to a keyword: "check in" matches
// "check-in", and "wlan" matches the German compound "WLAN-Passwort".
func spans(text, kw string, max int) [][2]int {
	out := spansExact(text, kw, max)
	if flat, flatKw := strings.ReplaceAll(text, "-", " "), strings.ReplaceAll(kw, "-", " "); flat != text || flatKw != kw {
		for _, s := range spansExact(flat, flatKw, max) {
			dup := false
			for _, o := range out {
				dup = dup || o == s
			}
			if !dup && (max == 0 || len(out) < max) {
				out = append(out, s)
			}
		}
	}
	return out
}

func spansExact(text, kw string, max int) [][2]int {
	prefix := strings.HasSuffix(kw, "*")
	// A leading * matches inside a word too: German writes compounds
	// ("Geburtstagsfeier", "Parkplatzgebühr"), so "*feier*" finds them.
	infix := strings.HasPrefix(kw, "*")
	kw = strings.Trim(kw, "*")
	if kw == "" {
		return nil
	}
	padded := " " + text + " "
	lead := " "
	if infix {
		lead = ""
	}
	var out [][2]int
	for i := 0; ; {
		j := strings.Index(padded[i:], lead+kw)
		if j < 0 {
			return out
		}
		start := i + j + len(lead)
		end := start + len(kw)
		if prefix || padded[end] == ' ' {
			for padded[start-1] != ' ' {
				start--
			}
			for padded[end] != ' ' {
				end++
			}
			// Offsets into text: padded has one leading space.
			if out = append(out, [2]int{start - 1, end - 1}); max > 0 && len(out) == max {
				return out
			}
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
