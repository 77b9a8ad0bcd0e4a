package answer

import (
	"sort"
	"strings"

	"github.com/harborstays/concierge/lib/lang"
)

// fact is a reservation fact that answers an intent by itself.
type fact int

const (
	noFact fact = iota
	checkInFact
	checkOutFact
)

// Intent is a question guests ask often, recognised in any of the
// assistant's languages without sharing a word with the (English) listing,
// and answered from the most specific source that has it: the guest's
// reservation, then the listing, then the shared policies.
type Intent struct {
	Name string
	// Words are the ways of asking, per language, in the policy keyword
	// syntax (whole words after lower-casing and removing accents; a
	// trailing * matches any ending, a leading one any beginning) and ~
	// for a word that asks this only in a question about time. English
	// words count in every language: guests say "check-in" and "wifi" in
	// all of them.
	Words map[string]string
	// Query is what the index is searched for: the listings and policies
	// are written in English, whatever the guest wrote.
	Query string
	// Stay: about the guest's own booking or home; an unverified contact
	// proves who they are before it is answered.
	Stay bool
	// Secret: answered only inside the disclosure window.
	Secret bool
	// Fact is the reservation fact that answers it, if any.
	Fact fact
	// Sections of a listing that may answer it, most useful first. Only
	// the first section with a matching sentence is quoted, unless
	// AllSections (parking: the access notes and the amenity both help).
	Sections    []string
	AllSections bool
	// Shared: the shared policies may answer when no listing does.
	Shared bool
	// Cues pick the sentences that answer it (English, keyword syntax);
	// empty: every sentence of the section answers.
	Cues string
	// Clauses: quote the clause (split at ";") rather than the sentence,
	// so a check-in question does not quote the check-out time beside it.
	Clauses bool
	// Max bounds the sentences quoted from one source (0: no bound).
	Max int
	// Generic intents (the house rules as a whole) give way to any more
	// specific one the question also matches ("are pets allowed?").
	Generic bool
	// Time: it answers "when". A word two intents share (Portuguese
	// "entrada": the check-in or the way in) goes to the Time intent in a
	// question about time ("a que horas é a entrada?") and to the other
	// one otherwise ("como funciona a entrada?").
	Time bool
	// Topic names the subject in each language, for the frame of quoted
	// text ("Sobre el aparcamiento, ...").
	Topic lang.Text
	// Frame, when set, presents the quoted text instead ("The exact
	// address is: %s").
	Frame lang.Text

	words map[string][]string // normalized
	// when holds the keywords written with a leading ~: they count only
	// in a question about time ("~dejar": "¿a qué hora hay que dejar el
	// alojamiento?" is check-out, "¿dónde dejo las maletas?" is not).
	when map[string][]string
	cues []string
}

// DefaultIntents is the intent lexicon: what guests ask most, in English,
// Spanish, French, German, Italian and Portuguese. Keep phrasings general
// ("dejar la casa", not one guest's sentence); the evaluation
// (testdata/eval) measures it.
var DefaultIntents = compile([]Intent{
	{
		Name: "checkin_time", Stay: true, Fact: checkInFact, Shared: true, Clauses: true, Max: 1, Time: true,
		Query:    "check-in time arrival",
		Sections: []string{"access"},
		Cues:     "check-in time|check-in is from|check-in from|check in from|standard check-in|arrival time|check-in is at",
		Words: map[string]string{
			lang.EN: "check-in|check in|checkin|check-in time|arrive|arrival|arriving|get in|come in",
			lang.ES: "hora de entrada|hora de llegada|llegada|llegar|llegamos|entrada|entrar",
			lang.FR: "arrivee|arriver|arrive|heure d arrivee|entrer",
			lang.DE: "einchecken|anreise|anreisen|ankunft|ankommen|rein|hinein",
			lang.IT: "arrivo|arrivare|arriviamo|orario di arrivo|entrare|ingresso",
			lang.PT: "chegada|chegar|chegamos|hora de entrada|entrada|entrar",
		},
		Topic: lang.Text{lang.EN: "check-in", lang.ES: "el check-in", lang.FR: "l'arrivée", lang.DE: "Check-in", lang.IT: "il check-in", lang.PT: "o check-in"},
	},
	{
		Name: "checkout_time", Stay: true, Fact: checkOutFact, Shared: true, Clauses: true, Max: 1, Time: true,
		Query:    "check-out checkout time departure",
		Sections: []string{"access"},
		Cues:     "check-out time|checkout time|check-out is by|checkout is by|check out by|checkout by|departure time",
		Words: map[string]string{
			lang.EN: "check-out|check out|checkout|check-out time|departure|depart|leave by|time to leave|when to leave|have to leave|need to leave|must we leave|should we leave|" +
				"leave the house|leave the apartment|leave the flat|leave the place|be out by|have to be out|need to be out|vacate|last day|stay until|~leave",
			lang.ES: "salida|hora de salida|dejar la casa|dejar el apartamento|dejar el piso|dejar la vivienda|irnos|marcharnos|que salir|tenemos que salir|hay que salir|desalojar|" +
				"quedarnos|ultimo dia|~dejar|~salir",
			lang.FR: "depart|doit-on partir|devons-nous partir|faut-il partir|on doit partir|nous devons partir|quitter|quitter le logement|quitter l appartement|liberer|" +
				"liberer le logement|heure de depart|dernier jour|rester jusqu|~sortir",
			lang.DE: "auschecken|abreise|abreisen|abfahrt|verlassen|raus sein|raus mussen|auszug|abreisetag|letzten tag|bleiben|~raus|~weg",
			lang.IT: "partenza|dobbiamo partire|devo partire|lasciare l appartamento|lasciare la casa|liberare|andare via|andarcene|ultimo giorno|restare fino|~lasciare|~uscire",
			lang.PT: "saida|sair|hora de saida|deixar a casa|deixar o apartamento|ir embora|desocupar|temos de sair|temos que sair|ultimo dia|ficar ate|~deixar",
		},
		Topic: lang.Text{lang.EN: "check-out", lang.ES: "la salida", lang.FR: "le départ", lang.DE: "Check-out", lang.IT: "il check-out", lang.PT: "o check-out"},
	},
	{
		Name: "checkout_instructions", Shared: true,
		Query:    "before checkout trash recycling dishwasher leaving",
		Sections: []string{"house_rules", "notes"},
		Cues:     "before checkout|before check-out|before check out|before you leave|before leaving|when you leave|on departure|at checkout|trash|rubbish|garbage|recycling|dishwasher",
		Words: map[string]string{
			lang.EN: "before checkout|before check-out|before check out|before we leave|before leaving|when we leave|when leaving|checkout instructions|check-out instructions|" +
				"checkout procedure|trash|garbage|rubbish|recycling|bins|dishwasher",
			lang.ES: "antes de salir|antes de irnos|antes de la salida|al salir|al irnos|instrucciones de salida|basura|reciclaje|lavavajillas|lavaplatos",
			lang.FR: "avant de partir|avant le depart|en partant|au depart|instructions de depart|poubelle|poubelles|ordures|recyclage|lave-vaisselle",
			lang.DE: "vor der abreise|vor dem auschecken|bei der abreise|beim auschecken|vor dem verlassen|*mull*|*abfall*|*spulmaschine*|*geschirrspuler*",
			lang.IT: "prima di partire|prima della partenza|alla partenza|prima di lasciare|istruzioni per la partenza|spazzatura|rifiuti|raccolta differenziata|lavastoviglie",
			lang.PT: "antes de sair|antes de irmos|antes da saida|ao sair|instrucoes de saida|lixo|reciclagem|lava-loica|lava-louca|maquina de lavar louca",
		},
		Topic: lang.Text{lang.EN: "check-out", lang.ES: "qué hacer antes de salir", lang.FR: "ce qu'il faut faire avant de partir", lang.DE: "Abreise", lang.IT: "cosa fare prima di partire", lang.PT: "o que fazer antes de sair"},
	},
	{
		Name: "wifi", Stay: true, Secret: true,
		Query:    "Wi-Fi wifi password network internet",
		Sections: []string{"private", "details", "amenities"},
		Cues:     "wi-fi|wifi|wi fi|wlan|wireless|internet|network|password",
		Words: map[string]string{
			lang.EN: "wifi|wi-fi|wi fi|wireless|internet|network|password|wlan",
			lang.ES: "contrasena|clave del wifi|red wifi|conexion",
			lang.FR: "mot de passe|reseau|code wifi|connexion",
			lang.DE: "*wlan*|*passwort*|kennwort|netzwerk",
			lang.IT: "rete|rete wifi|connessione",
			lang.PT: "senha|rede|rede wifi|conexao",
		},
		Topic: lang.Text{lang.EN: "Wi-Fi", lang.ES: "el wifi", lang.FR: "le Wi-Fi", lang.DE: "WLAN", lang.IT: "il Wi-Fi", lang.PT: "o Wi-Fi"},
		Frame: lang.Text{
			lang.EN: "Here are the Wi-Fi details:\n%s",
			lang.ES: "Estos son los datos del wifi:\n%s",
			lang.FR: "Voici les informations du Wi-Fi :\n%s",
			lang.DE: "Hier sind die WLAN-Daten:\n%s",
			lang.IT: "Ecco i dati del Wi-Fi:\n%s",
			lang.PT: "Aqui estão os dados do Wi-Fi:\n%s",
		},
	},
	{
		Name: "address", Stay: true, Secret: true,
		Query:    "exact address",
		Sections: []string{"address"},
		Words: map[string]string{
			lang.EN: "address|exact address|street address|where is the apartment|where is the house|where is the flat|where is the property|where is it located|location",
			lang.ES: "direccion|direccion exacta|donde esta el apartamento|donde esta la casa|donde esta el piso|donde queda|ubicacion",
			lang.FR: "adresse|adresse exacte|ou se trouve|ou est le logement|ou est l appartement|ou est la maison|emplacement",
			lang.DE: "adresse|anschrift|genaue adresse|wo ist die wohnung|wo ist das haus|wo liegt|wo befindet sich",
			lang.IT: "indirizzo|indirizzo esatto|dove si trova|dov e l appartamento|dov e la casa|posizione",
			lang.PT: "endereco|endereco exato|onde fica|onde e o apartamento|onde e a casa|localizacao",
		},
		Topic: lang.Text{lang.EN: "the address", lang.ES: "la dirección", lang.FR: "l'adresse", lang.DE: "Adresse", lang.IT: "l'indirizzo", lang.PT: "o endereço"},
		Frame: lang.Text{
			lang.EN: "The exact address is: %s",
			lang.ES: "La dirección exacta es: %s",
			lang.FR: "L'adresse exacte est : %s",
			lang.DE: "Die genaue Adresse lautet: %s",
			lang.IT: "L'indirizzo esatto è: %s",
			lang.PT: "O endereço exato é: %s",
		},
	},
	{
		Name:     "directions",
		Query:    "transit bus train station airport drive walk neighbourhood",
		Sections: []string{"neighborhood"},
		Cues:     "bus|train|station|airport|drive|driving|walk|walking|transit|transport|taxi|tram|metro|subway|ferry|car|highway|road|parking",
		Words: map[string]string{
			lang.EN: "directions|how do we get there|how do i get there|how to get there|get there|getting there|from the airport|airport|bus|train|public transport|transit|taxi|station",
			lang.ES: "como llegar|como llegamos|como llego|desde el aeropuerto|aeropuerto|autobus|tren|transporte publico|estacion|taxi",
			lang.FR: "comment y aller|comment venir|comment arriver|comment s y rendre|itineraire|aeroport|bus|train|transports en commun|gare|taxi",
			lang.DE: "wie kommen wir hin|wie kommen wir dorthin|wie kommen wir zur|anfahrt|wegbeschreibung|flughafen|bus|zug|bahnhof|offentliche verkehrsmittel|taxi",
			lang.IT: "come arrivare|come arriviamo|come ci arriviamo|indicazioni|aeroporto|autobus|treno|stazione|mezzi pubblici|taxi",
			lang.PT: "como chegar|como chegamos|como chego|aeroporto|onibus|autocarro|comboio|trem|estacao|transporte publico|taxi",
		},
		Topic: lang.Text{lang.EN: "getting there", lang.ES: "cómo llegar", lang.FR: "l'itinéraire", lang.DE: "Anfahrt", lang.IT: "come arrivare", lang.PT: "como chegar"},
	},
	{
		Name: "access", Stay: true, AllSections: true,
		Query:    "door keypad lockbox key code entrance self check-in stairs floor",
		Sections: []string{"access", "private"},
		Cues:     "door|keypad|lockbox|lock box|key|keys|code|self check-in|entrance|stairs|floor|building|gate|elevator|lift|intercom",
		Words: map[string]string{
			lang.EN: "door|door code|keypad|lockbox|lock box|key box|key|keys|get in|come in|how do we get in|how do i get in|how to get in|get into|let ourselves in|" +
				"entrance|access|self check-in|check-in instructions|how do we check in|how do i check in|how to check in|how does check-in work",
			lang.ES: "puerta|codigo de la puerta|llave|llaves|cerradura|caja de llaves|acceso|entrada|entrar|como entramos|como entro|como entrar|como accedemos|como hacemos el check-in|instrucciones de entrada",
			lang.FR: "porte|code de la porte|cle|cles|boite a cles|digicode|acces|entree|entrer|comment entrer|comment rentrer|comment on entre|comment faire le check-in|instructions d arrivee",
			lang.DE: "tur|*turcode*|*schlussel*|zugang|eingang|rein|hinein|wie kommen wir rein|wie kommen wir in die wohnung|reinkommen|hineinkommen|wie funktioniert der check-in",
			lang.IT: "porta|codice della porta|chiave|chiavi|cassetta|cassetta delle chiavi|keybox|accesso|ingresso|entrare|come entriamo|come entrare|come si entra|come funziona il check-in",
			lang.PT: "porta|codigo da porta|chave|chaves|cofre|caixa de chaves|acesso|entrada|entrar|como entramos|como entrar|como entro|como funciona o check-in",
		},
		Topic: lang.Text{lang.EN: "getting in", lang.ES: "el acceso", lang.FR: "l'accès au logement", lang.DE: "Zugang", lang.IT: "l'accesso", lang.PT: "o acesso"},
	},
	{
		Name: "parking", AllSections: true, Max: 2,
		Query:    "parking park garage driveway",
		Sections: []string{"access", "amenities", "notes", "details"},
		Cues:     "parking|park|garage|driveway|carport",
		Words: map[string]string{
			lang.EN: "park|parking|garage|driveway|car park|leave the car|leave our car|leave my car|put the car",
			lang.ES: "aparca*|estaciona*|parking|garaje|coche|plaza de aparcamiento",
			lang.FR: "se gare|garer|garez|stationn*|parking|garage|voiture",
			lang.DE: "park*|*parkplatz*|*parkhaus*|*garage*|*stellplatz*|auto",
			lang.IT: "parcheggi*|garage|posto auto|macchina|auto",
			lang.PT: "estaciona*|garagem|vaga|carro",
		},
		Topic: lang.Text{lang.EN: "parking", lang.ES: "el aparcamiento", lang.FR: "le stationnement", lang.DE: "Parken", lang.IT: "il parcheggio", lang.PT: "o estacionamento"},
	},
	{
		Name: "pets", Shared: true,
		Query:    "pets dogs cats animals",
		Sections: []string{"house_rules", "notes", "details"},
		Cues:     "pet|pets|pet-friendly|dog|dogs|cat|cats|animal|animals",
		Words: map[string]string{
			lang.EN: "pet|pets|pet-friendly|dog|dogs|puppy|cat|cats|animal*",
			lang.ES: "mascota*|perro*|perrito*|gato*|animal*",
			lang.FR: "animal|animaux|animaux de compagnie|chien*|chat|chats|chaton*",
			lang.DE: "*haustier*|hund*|katze*|tier|tiere",
			lang.IT: "animali|animale|animali domestici|cane|cani|cagnolino|gatto|gatti",
			lang.PT: "animais|animal|animais de estimacao|pet|cao|caes|cachorro*|gato*",
		},
		Topic: lang.Text{lang.EN: "pets", lang.ES: "las mascotas", lang.FR: "les animaux", lang.DE: "Haustiere", lang.IT: "gli animali", lang.PT: "os animais de estimação"},
	},
	{
		Name: "smoking", Shared: true,
		Query:    "smoking smoke",
		Sections: []string{"house_rules", "notes"},
		Cues:     "smoking|smoke|smoke-free|non-smoking|cigarette*|vaping",
		Words: map[string]string{
			lang.EN: "smoking|smoke-free|non-smoking|cigarette*|vape|vaping",
			lang.ES: "fumar|fumadores|tabaco|cigarrillo*",
			lang.FR: "fumer|fumeur*|cigarette*|tabac",
			lang.DE: "rauchen|*raucher*|*zigarette*",
			lang.IT: "fumare|fumatori|sigarett*",
			lang.PT: "fumar|fumantes|fumadores|cigarro*",
		},
		Topic: lang.Text{lang.EN: "smoking", lang.ES: "fumar", lang.FR: "le tabac", lang.DE: "Rauchen", lang.IT: "il fumo", lang.PT: "fumar"},
	},
	{
		Name: "quiet_hours", Shared: true,
		Query:    "quiet hours noise",
		Sections: []string{"house_rules", "notes"},
		Cues:     "quiet|noise|noisy|music",
		Words: map[string]string{
			lang.EN: "quiet hours|quiet time|quiet|noise|noisy|loud|music",
			lang.ES: "silencio|horas de silencio|ruido|ruidoso|ruidosa|musica",
			lang.FR: "bruit|bruyant|bruyante|silence|heures calmes|heures de silence|musique",
			lang.DE: "*ruhezeit*|nachtruhe|ruhe|*larm*|laut|musik",
			lang.IT: "silenzio|ore di silenzio|rumore|rumoroso|rumorosa|musica",
			lang.PT: "silencio|horas de silencio|barulho|barulhento|barulhenta|ruido|musica",
		},
		Topic: lang.Text{lang.EN: "noise", lang.ES: "el ruido", lang.FR: "le bruit", lang.DE: "Ruhezeiten", lang.IT: "il rumore", lang.PT: "o barulho"},
	},
	{
		Name: "parties", Shared: true,
		Query:    "parties events",
		Sections: []string{"house_rules", "notes"},
		Cues:     "party|parties|event|events|gathering*|celebration*",
		Words: map[string]string{
			lang.EN: "party|parties|event|events|celebration|birthday|gathering|friends over|people over|guests over|visitors",
			lang.ES: "fiesta*|evento*|celebracion|cumpleanos|reunion|invitar amigos|visitas",
			lang.FR: "fete*|soiree*|evenement*|anniversaire|inviter des amis|visiteurs",
			lang.DE: "party|partys|*feier*|*veranstaltung*|*geburtstag*|besuch|freunde einladen",
			lang.IT: "festa|feste|evento|eventi|compleanno|invitare amici|ospiti esterni",
			lang.PT: "festa*|evento*|aniversario|celebracao|convidar amigos|visitas",
		},
		Topic: lang.Text{lang.EN: "parties", lang.ES: "las fiestas", lang.FR: "les fêtes", lang.DE: "Partys", lang.IT: "le feste", lang.PT: "as festas"},
	},
	{
		Name: "house_rules", Shared: true, Generic: true,
		Query:    "house rules",
		Sections: []string{"house_rules"},
		Words: map[string]string{
			lang.EN: "house rules|rules|regulations|what is allowed|allowed|policy|policies",
			lang.ES: "normas|reglas|normas de la casa|reglas de la casa|que esta permitido|permitido|se permite",
			lang.FR: "regles|reglement|regles de la maison|reglement interieur|autorise|autorises|permis",
			lang.DE: "hausordnung|regeln|hausregeln|erlaubt",
			lang.IT: "regole|regole della casa|regolamento|consentito|permesso|ammessi|ammesso",
			lang.PT: "regras|regras da casa|regulamento|permitido|permitidos",
		},
		Topic: lang.Text{lang.EN: "house rules", lang.ES: "las normas de la casa", lang.FR: "le règlement intérieur", lang.DE: "Hausordnung", lang.IT: "le regole della casa", lang.PT: "as regras da casa"},
	},
})

// timeWords ask "when", per language: phrases anywhere in the question,
// and single words only when they open it
// ("When can we get in?" asks a time; "how do we get in when we arrive?"
// does not).
var (
	timeWords = map[string][]string{
		lang.EN: splitList("what time|until when|by when|what hour|how early|until what time|from what time"),
		lang.ES: splitList("a que hora|que hora|hasta que hora|hasta cuando|a partir de que hora|desde que hora|horario"),
		lang.FR: splitList("quelle heure|jusqu a quand|a partir de quand|horaire|horaires"),
		lang.DE: splitList("ab wann|bis wann|uhrzeit|um wie viel uhr|wie spat"),
		lang.IT: splitList("che ora|che ore|fino a che ora|entro che ora|da che ora|a partire da che ora|orario|orari"),
		lang.PT: splitList("que horas|ate que horas|a partir de que horas|horario|horarios"),
	}
	timeOpeners = map[string][]string{
		lang.EN: {"when"}, lang.ES: {"cuando"}, lang.FR: {"quand"}, lang.DE: {"wann"}, lang.IT: {"quando"}, lang.PT: {"quando"},
	}
)

// asksWhen reports whether normalized text is a question about time, in
// any language (the words barely overlap, and a misread language must not
// turn "a que horas podemos entrar?" into a question about the door).
func asksWhen(text string) bool {
	first, _, _ := strings.Cut(text, " ")
	for _, x := range lang.Supported {
		if anyMatch(text, timeWords[x]) || contains(timeOpeners[x], first) {
			return true
		}
	}
	return false
}

// compile normalizes the keyword lists.
func compile(in []Intent) []Intent {
	for i := range in {
		x := &in[i]
		x.words, x.when = map[string][]string{}, map[string][]string{}
		for l, ws := range x.Words {
			for _, w := range strings.Split(ws, "|") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(w), "~"); ok {
					x.when[l] = append(x.when[l], splitList(rest)...)
				} else {
					x.words[l] = append(x.words[l], splitList(w)...)
				}
			}
		}
		x.cues = splitList(x.Cues)
	}
	return in
}

// match finds the intents question asks about, sentence by sentence, and
// returns the sentences no intent covers (the rest, answered by quoting
// the best passages).
func match(intents []Intent, question, l string) (found []*Intent, rest []string) {
	seen := map[string]bool{}
	for _, s := range sentences(question) {
		ms := matchSentence(intents, s, l)
		if len(ms) == 0 {
			rest = append(rest, s)
			continue
		}
		for _, m := range ms {
			if !seen[m.Name] {
				seen[m.Name] = true
				found = append(found, m)
			}
		}
	}
	return found, rest
}

type intentHit struct {
	intent *Intent
	spans  [][2]int
}

func matchSentence(intents []Intent, sentence, l string) []*Intent {
	text := normalize(sentence)
	// The conversation's language, English, and the sentence's own when it
	// tells; every language only when it does not ("mascotas?" in an
	// English conversation), never for a sentence plainly in one
	// ("Can I chat with you?" is no question about a French cat).
	own := lang.Detect(sentence)
	langs := []string{lang.EN}
	for _, x := range []string{l, own} {
		if x != "" && !contains(langs, x) {
			langs = append(langs, x)
		}
	}
	when := asksWhen(text)
	hs := matchLangs(intents, text, langs, when)
	if len(hs) == 0 && own == "" {
		hs = matchLangs(intents, text, lang.Supported, when)
	}
	// A more specific intent wins: "before checkout" (instructions)
	// covers "checkout" (the time); "how do we check in" (access) covers
	// "check in" (the time); the house rules give way to pets.
	specific := false
	for _, h := range hs {
		specific = specific || !h.intent.Generic
	}
	var out []*Intent
	for i, h := range hs {
		if h.intent.Generic && specific {
			continue
		}
		if covered(h, hs, i, when) {
			continue
		}
		out = append(out, h.intent)
	}
	return out
}

func matchLangs(intents []Intent, text string, langs []string, when bool) []intentHit {
	var out []intentHit
	for i := range intents {
		x := &intents[i]
		var ss [][2]int
		for _, l := range langs {
			for _, kw := range x.words[l] {
				ss = append(ss, spans(text, kw, 0)...)
			}
			if when {
				for _, kw := range x.when[l] {
					ss = append(ss, spans(text, kw, 0)...)
				}
			}
		}
		if len(ss) > 0 {
			out = append(out, intentHit{x, ss})
		}
	}
	return out
}

// covered reports whether every span of hs[i] lies inside a longer span
// of another intent, or inside an equal one that wins it (the Time intent
// in a question about time, the other one otherwise).
func covered(h intentHit, hs []intentHit, i int, when bool) bool {
	for _, s := range h.spans {
		inside := false
		for j, o := range hs {
			if j == i {
				continue
			}
			for _, t := range o.spans {
				if t[0] > s[0] || s[1] > t[1] {
					continue
				}
				longer := t[1]-t[0] > s[1]-s[0]
				wins := o.intent.Time != h.intent.Time && o.intent.Time == when
				if longer || wins {
					inside = true
				}
			}
		}
		if !inside {
			return false
		}
	}
	return true
}

// intentNames names the intents question asks about, sorted.
func intentNames(question, l string) []string {
	found, _ := match(DefaultIntents, question, l)
	names := make([]string, 0, len(found))
	for _, f := range found {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// asksStay and asksSecret tell whether any intent is about the stay or
// secret.
func asksStay(found []*Intent) bool {
	for _, f := range found {
		if f.Stay {
			return true
		}
	}
	return false
}

func asksSecret(found []*Intent) bool {
	for _, f := range found {
		if f.Secret {
			return true
		}
	}
	return false
}

// answers reports whether sentence s answers the intent.
func (x *Intent) answers(s string) bool {
	if len(x.cues) == 0 {
		return true
	}
	return anyMatch(normalize(s), x.cues)
}
