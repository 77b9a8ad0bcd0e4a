// Package lang knows the languages Concierge speaks to guests: which one a
// guest's message is written in, the conversation's language when a
// message alone cannot tell, and the fixed sentences and dates the
// assistant says in each of them.
//
// Detection is a small function-word scorer written for guest questions,
// not a general-purpose identifier: guests write short questions ("Can we
// bring our dog?", "a che ora è il check-out?"), where general models
// trained on long text guess badly, and the six languages here are all
// the assistant answers in. A text the scorer cannot place ("wifi?",
// "HMK7M2Q9XA Avery") keeps the conversation's language.
package lang

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Languages the assistant answers in (ISO 639-1).
const (
	EN = "en"
	ES = "es"
	FR = "fr"
	DE = "de"
	IT = "it"
	PT = "pt"
)

// Supported lists the languages in the order ties are broken.
var Supported = []string{EN, ES, FR, DE, IT, PT}

// Default is the language of a conversation nothing else tells.
const Default = EN

// Detection thresholds. One distinctive word ("gracias", "wo", "merci")
// is enough, so a two-word question is placed; a text whose best language
// leads the next by less than half a word is not.
const (
	minScore  = 1.0
	minMargin = 0.5
)

// words are frequent function words and the everyday vocabulary of guest
// questions, accents stripped (guests on phones often omit them). A word
// listed for several languages counts for each of them divided by how
// many list it, so "de" or "la" barely move a score and "the", "wo" or
// "cuando" decide it.
var words = map[string]string{
	EN: "the a an is are am was do does did can could may might will would should shall we i you he she they it our my your their me us " +
		"what what's whats where where's when which who why how there here this that these those with without from for to of on at by in into " +
		"and or but not no yes please thanks thank hi hello hey good morning evening night time get got have has need want allowed allow " +
		"bring dog dogs cat cats pet pets park car leave left out early late check door code key keys lock password address " +
		"house home apartment flat rules any some much many there's it's i'm we're can't don't anything something tell know find " +
		"stay staying arrive arrival going go way airport train bus instructions before after trash smoke smoking quiet party",
	ES: "a el la los las un una unos unas de del al que y o en es son esta estan hay para por con sin se su sus mi mis nuestro nuestra " +
		"nuestros nuestras cual cuales cuando donde como quien hola gracias buenos buenas dias tardes noches favor podemos puedo puede " +
		"pueden tenemos tengo tiene hacer hora llegar llegada salida salir dejar casa piso apartamento llave llaves puerta codigo " +
		"contrasena clave direccion aparcar aparcamiento estacionar coche perro perros gato mascota mascotas normas reglas permitido " +
		"fumar fiesta ruido basura antes despues manana hoy tambien pero muy necesito necesitamos queremos quiero vamos irnos estamos " +
		"aqui alli lo le les nos me te llegamos entrar salimos cuanto ustedes usted mucho mucha muchas muchos admiten partir aeropuerto transporte",
	FR: "le la les un une des de du au aux et ou est sont a en dans pour par avec sans sur sous ce cet cette ces mon ma mes notre nos " +
		"votre vos leur il elle nous vous on je tu y quel quelle quels quelles quand comment combien pourquoi qui bonjour bonsoir merci " +
		"salut peut peux pouvons pouvez faut faire heure heures arrivee arriver depart partir quitter logement appartement maison cle " +
		"cles porte code mot passe adresse garer stationnement voiture chien chiens chat chats animaux animal regles autorise fumer fete " +
		"bruit poubelle poubelles avant apres demain aujourd'hui aussi mais tres besoin voudrions voudrais sommes ici pas ne est-ce " +
		"qu'est-ce s'il plait doit devons beaucoup ils elles acceptes accepte peut-on doit-on sont-ils est-il y-a-t-il " +
		"pouvons-nous devons-nous avez-vous pouvez-vous faut-il",
	DE: "der die das den dem des ein eine einen einem einer und oder ist sind war wir ich du sie er es ihr uns unser unsere mein meine " +
		"euer ihre was wo wann wie wer warum welche welcher welches woher wohin gibt um uhr mit ohne fur auf aus bei nach von vor zu zum " +
		"zur im am an hallo danke bitte guten morgen abend tag konnen kann darf durfen mussen muss mochten mochte haben hat brauchen " +
		"einchecken auschecken anreise abreise ankunft wohnung haus schlussel tur code passwort adresse parken parkplatz auto hund hunde " +
		"katze haustiere regeln hausordnung erlaubt rauchen party larm mull vorher nachher morgen heute auch aber sehr nicht kein keine " +
		"hier dort noch schon wlan",
	IT: "il lo la i gli le un uno una di del dello della dei degli delle e che a al allo alla ai agli alle da dal in nel nella per con " +
		"su sul sulla ci si ce mi ti vi noi voi io tu lui lei loro nostro nostra vostro vostra qual quale quali quando dove come chi " +
		"perche cosa ciao buongiorno buonasera grazie prego possiamo posso puo potete dobbiamo devo deve ora ore orario arrivo arrivare " +
		"partenza partire lasciare uscire casa appartamento chiave chiavi porta codice indirizzo parcheggio parcheggiare macchina auto " +
		"cane cani gatto animali regole consentito permesso fumare festa rumore spazzatura prima dopo domani oggi anche ma molto bisogno " +
		"vorremmo vorrei siamo sono qui li non c'e dov'e password ammessi ammesso mille ecco dati aeroporto",
	PT: "o a os as um uma uns umas de do da dos das no na nos nas em e que ou para por com sem se seu sua meu minha nosso nossa " +
		"voces voce qual quais quando onde como quem ola oi obrigado obrigada bom boa dia tarde noite podemos posso pode tem temos " +
		"tenho ha hora horas chegar chegada saida sair deixar casa apartamento chave chaves porta codigo senha endereco estacionar " +
		"estacionamento carro cao caes cachorro gato animais regras permitido fumar festa barulho lixo antes depois amanha hoje " +
		"tambem mas muito preciso precisamos queremos quero estamos aqui ali nao fazer fazemos faz isso esta estao entrar chegamos chega chegam partir aeroporto transporte",
}

// marks are letters and punctuation only some of the languages write.
var marks = []struct {
	s     string
	langs []string
	w     float64
}{
	{"¿", []string{ES}, 2}, {"¡", []string{ES}, 2}, {"ñ", []string{ES}, 1},
	{"ß", []string{DE}, 1.5}, {"ä", []string{DE}, 1}, {"ö", []string{DE}, 1}, {"ü", []string{DE}, 1},
	{"ã", []string{PT}, 1.5}, {"õ", []string{PT}, 1.5}, {"ção", []string{PT}, 1}, {"ções", []string{PT}, 1},
	{"ción", []string{ES}, 1}, {"zione", []string{IT}, 1}, {"œ", []string{FR}, 1},
	{"ç", []string{FR, PT}, 0.5}, {"ê", []string{FR, PT}, 0.5}, {"â", []string{FR, PT}, 0.5}, {"ô", []string{FR, PT}, 0.5},
	{"è", []string{FR, IT}, 0.5}, {"ì", []string{IT}, 0.5}, {"ò", []string{IT}, 0.5}, {"ù", []string{FR, IT}, 0.5},
	{"î", []string{FR}, 0.5}, {"ï", []string{FR}, 0.5}, {"ë", []string{FR}, 0.5},
}

// standalone are one-letter words whose accent alone names the language:
// Italian "è" (is), Portuguese "é" (is), French "à" and "où".
var standalone = map[string]map[string]float64{
	"è":  {IT: 1.5},
	"é":  {PT: 1.5},
	"à":  {FR: 0.75, PT: 0.5},
	"où": {FR: 1.5},
}

var weights = func() map[string]map[string]float64 {
	count := map[string]int{}
	for _, l := range Supported {
		for _, w := range strings.Fields(words[l]) {
			count[fold(w)]++
		}
	}
	out := map[string]map[string]float64{}
	for _, l := range Supported {
		for _, w := range strings.Fields(words[l]) {
			w = fold(w)
			if out[w] == nil {
				out[w] = map[string]float64{}
			}
			out[w][l] = 1 / float64(count[w])
		}
	}
	return out
}()

// Scores returns each language's score for text; the highest is the best
// guess. For tests and for explaining a detection.
func Scores(text string) map[string]float64 {
	s, _ := scores(text)
	return s
}

// scores also counts the evidence: the words and marks that scored.
func scores(text string) (map[string]float64, int) {
	s := map[string]float64{}
	evidence := 0
	lower := strings.ToLower(norm.NFC.String(text))
	for _, m := range marks {
		if n := strings.Count(lower, m.s); n > 0 {
			evidence++
			for _, l := range m.langs {
				// A long message full of accents must not outweigh its
				// words: each mark counts at most twice.
				s[l] += m.w * float64(min(n, 2))
			}
		}
	}
	for _, tok := range tokens(lower) {
		if ws, ok := standalone[tok]; ok {
			evidence++
			for l, w := range ws {
				s[l] += w
			}
			continue
		}
		if ws := weights[fold(tok)]; len(ws) > 0 {
			evidence++
			for l, w := range ws {
				s[l] += w
			}
		}
	}
	return s, evidence
}

// Detect returns the language text is written in, or "" when the text is
// too short or too mixed to tell.
func Detect(text string) string {
	l, _ := detect(text)
	return l
}

func detect(text string) (string, int) {
	s, evidence := scores(text)
	best, second := "", 0.0
	for _, l := range Supported {
		switch {
		case best == "" || s[l] > s[best]:
			if best != "" {
				second = s[best]
			}
			best = l
		case s[l] > second:
			second = s[l]
		}
	}
	if s[best] < minScore || s[best]-second < minMargin {
		return "", evidence
	}
	return best, evidence
}

// Choose is the language to answer text in: what text is written in when
// it can tell; otherwise the conversation's earlier language, then hint
// (Chatwoot's browser language, normalized with Normalize), then English.
// One word alone ("pets?", "Danke") does not switch a conversation that
// has a language: guests drop English words into every language.
// fromText reports whether text decided, so the caller keeps it as the
// conversation's language.
func Choose(text, previous, hint string) (l string, fromText bool) {
	previous = Normalize(previous)
	if d, evidence := detect(text); d != "" && (previous == "" || evidence >= 2) {
		return d, true
	}
	for _, l := range []string{previous, Normalize(hint)} {
		if l != "" {
			return l, false
		}
	}
	return Default, false
}

// Normalize turns a locale ("pt-BR", "es_419", "FR") into a supported
// language, or "" for one the assistant does not speak.
func Normalize(locale string) string {
	l := strings.ToLower(strings.TrimSpace(locale))
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	for _, s := range Supported {
		if l == s {
			return s
		}
	}
	return ""
}

// loanwords are written the same in every language: their parts ("check",
// "in") are no English evidence in "¿A qué hora es el check-in?".
var loanwords = map[string]bool{"check-in": true, "check-out": true, "wi-fi": true, "self-check-in": true, "e-mail": true}

// tokens splits lower-cased text into words; apostrophes and hyphens stay
// inside a word ("qu'est-ce", "c'è") and an unknown word is also offered
// without its elided article ("l'appartamento" also reads "appartamento")
// and by its hyphenated parts.
func tokens(lower string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(lower, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’' || r == '-')
	}) {
		f = strings.Trim(strings.ReplaceAll(f, "’", "'"), "'-")
		if f == "" {
			continue
		}
		out = append(out, f)
		if _, known := weights[fold(f)]; known || loanwords[f] {
			continue
		}
		if i := strings.IndexByte(f, '\''); i > 0 && i < len(f)-1 {
			out = append(out, f[i+1:])
		}
		// Hyphenated words count by their parts: "pode-se", "WLAN-Passwort".
		if strings.Contains(f, "-") {
			out = append(out, strings.Split(f, "-")...)
		}
	}
	return out
}

// fold strips accents: guests often type "cuando" for "cuándo".
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
