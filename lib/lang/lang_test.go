package lang

import (
	"strings"
	"testing"
	"time"
)

// Short questions as guests write them: with and without accents, with
// greetings, one word or two. "" is a text nobody can place.
var detections = map[string][]string{
	EN: {
		"What time is check-in?", "Can we bring our dog?", "Where do we park the car?", "What's the wifi password?",
		"Is there parking nearby?", "How do we get into the apartment?", "When do we have to leave on Sunday?",
		"Are pets allowed?", "Hi, what's the address?", "Thanks so much!", "Do you have a hair dryer?",
		"Can I smoke on the balcony?", "hey what time is check in",
	},
	ES: {
		"¿A qué hora es el check-in?", "¿Cuándo tenemos que dejar la casa?", "¿Dónde podemos aparcar?",
		"¿Cuál es la contraseña del wifi?", "¿Se admiten mascotas?", "Hola, ¿cuál es la dirección exacta?",
		"¿Cómo entramos al apartamento?", "Muchas gracias", "Necesitamos saber a qué hora salir",
		"¿Podemos llevar a nuestro perro?", "Hola", "cual es el codigo de la puerta", "¿Hay estacionamiento gratis?",
	},
	FR: {
		"À quelle heure est le check-in ?", "Où peut-on se garer ?", "Quel est le mot de passe du wifi ?",
		"Les animaux sont-ils acceptés ?", "Bonjour, quelle est l'adresse ?", "À quelle heure doit-on quitter le logement ?",
		"Comment entrer dans l'appartement ?", "Merci beaucoup !", "Est-ce qu'on peut fumer sur le balcon ?",
		"Pouvons-nous venir avec notre chien ?", "Merci", "ou est la cle",
	},
	DE: {
		"Wann ist der Check-in?", "Wo können wir parken?", "Wie lautet das WLAN-Passwort?", "Sind Haustiere erlaubt?",
		"Hallo, wie ist die genaue Adresse?", "Bis wann müssen wir die Wohnung verlassen?", "Wie kommen wir in die Wohnung?",
		"Danke schön!", "Dürfen wir unseren Hund mitbringen?", "Wo ist der Schlüssel?", "Danke", "wo ist der schlussel",
	},
	IT: {
		"A che ora è il check-out?", "a che ora è il check-out?", "Dove possiamo parcheggiare?", "Qual è la password del wifi?",
		"Sono ammessi animali?", "Ciao, qual è l'indirizzo esatto?", "A che ora dobbiamo lasciare l'appartamento?",
		"Come entriamo in casa?", "Grazie mille!", "Possiamo portare il nostro cane?", "Si può fumare sul balcone?", "Grazie",
	},
	PT: {
		"A que horas é o check-in?", "Onde podemos estacionar?", "Qual é a senha do wifi?", "É permitido levar animais?",
		"Olá, qual é o endereço?", "A que horas temos de sair da casa?", "Como entramos no apartamento?", "Muito obrigado!",
		"Podemos levar o nosso cachorro?", "Onde fica a chave?", "Obrigada", "A partir de que horas podemos entrar?",
	},
	// Nothing to tell, or as Spanish as it is Portuguese.
	"": {"wifi?", "parking?", "check-in?", "ok", "HMK7M2Q9XA Avery", "👍", "", "11:00?", "Podemos entrar?"},
}

func TestDetect(t *testing.T) {
	for want, texts := range detections {
		if want != "" && len(texts) < 10 {
			t.Errorf("%s: %d questions, want at least 10", want, len(texts))
		}
		for _, text := range texts {
			if got := Detect(text); got != want {
				t.Errorf("Detect(%q) = %q, want %q (scores %v)", text, got, want, Scores(text))
			}
		}
	}
}

// A word several languages share counts for each divided by how many:
// "de" barely moves a score, "wo" decides one.
func TestSharedWordsWeighLess(t *testing.T) {
	if s := Scores("de"); s[ES] != 1.0/3 || s[FR] != 1.0/3 || s[PT] != 1.0/3 || s[IT] != 0 || s[EN] != 0 {
		t.Errorf(`Scores("de") = %v, want a third for es, fr and pt`, s)
	}
	if s := Scores("wo"); s[DE] != 1 {
		t.Errorf(`Scores("wo") = %v, want 1 for de`, s)
	}
}

func TestChoose(t *testing.T) {
	tests := []struct {
		text, previous, hint string
		want                 string
		fromText             bool
	}{
		{"¿Cuándo tenemos que dejar la casa?", "", "", ES, true},
		{"¿Cuándo tenemos que dejar la casa?", EN, "de", ES, true}, // a full sentence switches the conversation
		{"wifi?", ES, "", ES, false},                               // too short: the conversation's language
		{"wifi?", "", "fr-FR", FR, false},                          // then Chatwoot's browser language
		{"wifi?", "", "nl", EN, false},                             // a language the assistant does not speak
		{"wifi?", "", "", EN, false},
		{"pets?", PT, "", PT, false},       // one English word does not switch a Portuguese conversation
		{"Danke", EN, "", EN, false},       // nor one German word an English one
		{"Danke", "", "", DE, true},        // but it starts one
		{"Danke schön!", EN, "", DE, true}, // two words do switch
		{"HMK7M2Q9XA Avery", "it", "", IT, false},
		{"parking?", "", "PT_br", PT, false},
	}
	for _, tt := range tests {
		got, from := Choose(tt.text, tt.previous, tt.hint)
		if got != tt.want || from != tt.fromText {
			t.Errorf("Choose(%q, %q, %q) = %q, %v; want %q, %v", tt.text, tt.previous, tt.hint, got, from, tt.want, tt.fromText)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"pt-BR": PT, "es_419": ES, "FR": FR, " de-AT ": DE, "it": IT, "en-US": EN, "nl": "", "": "", "e": ""} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every sentence exists in every language, with the same placeholders in
// the same order, so no guest reads an English fallback or a %!s(MISSING).
func TestTextsAreComplete(t *testing.T) {
	texts := map[string]Text{
		"VerifyPrompt": VerifyPrompt, "mismatchOne": mismatchOne, "mismatchMany": mismatchMany, "Verified": Verified,
		"HowCanIHelp": HowCanIHelp, "SecretsUnconfirmed": SecretsUnconfirmed, "SecretsEnded": SecretsEnded,
		"SecretsFrom": SecretsFrom, "HandoffAck": HandoffAck, "VoiceUnreadable": VoiceUnreadable,
	}
	for name, text := range texts {
		for _, p := range text.Problems() {
			t.Errorf("%s: %s", name, p)
		}
	}
	// The check itself catches both faults.
	if p := (Text{EN: "at %s", ES: "a las"}).Problems(); len(p) != 5 {
		t.Errorf("Problems of a broken text = %v, want the missing placeholder and four missing languages", p)
	}
}

func TestTextIn(t *testing.T) {
	if got := Verified.In(ES); got != "Gracias, su reserva está confirmada." {
		t.Errorf("Verified.In(es) = %q", got)
	}
	if got := Verified.In("nl"); got != Verified[EN] {
		t.Errorf("a language without the text: %q, want English", got)
	}
	if got, want := Mismatch(DE, 1), "(noch 1 Versuch)"; !strings.Contains(got, want) {
		t.Errorf("Mismatch(de, 1) = %q, want %q", got, want)
	}
	if got, want := Mismatch(EN, 2), "(2 attempts left)"; !strings.Contains(got, want) {
		t.Errorf("Mismatch(en, 2) = %q, want %q", got, want)
	}
}

func TestDates(t *testing.T) {
	fri := time.Date(2025, 7, 18, 15, 0, 0, 0, time.UTC)
	sat := time.Date(2025, 7, 19, 13, 5, 0, 0, time.UTC)
	one := time.Date(2025, 7, 19, 1, 30, 0, 0, time.UTC)
	tests := []struct {
		got, want string
	}{
		{At(EN, fri, false), "Friday 18 July at 3:00 PM"},
		{At(ES, fri, false), "viernes 18 de julio a las 15:00"},
		{At(ES, one, false), "sábado 19 de julio a la 01:30"},
		{At(FR, fri, true), "vendredi 18 juillet 2025 à 15:00"},
		{At(DE, fri, false), "Freitag, 18. Juli, 15:00 Uhr"},
		{At(IT, fri, false), "venerdì 18 luglio alle 15:00"},
		{At(IT, one, false), "sabato 19 luglio all'01:30"},
		{At(PT, sat, true), "sábado, 19 de julho de 2025, às 13:05"},
		{OnDay(EN, fri, false), "on Friday 18 July"},
		{OnDay(ES, fri, false), "el viernes 18 de julio"},
		{OnDay(FR, fri, false), "le vendredi 18 juillet"},
		{OnDay(DE, fri, false), "am Freitag, 18. Juli"},
		{OnDay(IT, fri, false), "venerdì 18 luglio"},
		{OnDay(PT, fri, false), "na sexta-feira, 18 de julho"},
		{OnDay(PT, sat, false), "no sábado, 19 de julho"},
		{OnDay("nl", fri, false), "on Friday 18 July"},
		{Duration(EN, 24*time.Hour), "24 hours"},
		{Duration(DE, time.Hour), "1 Stunde"},
		{Duration(IT, 90*time.Minute), "90 minuti"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
