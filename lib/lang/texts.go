package lang

import (
	"fmt"
	"time"
)

// Text is one sentence in every supported language, written by a person
// (never machine-translated at run time). Placeholders are fmt verbs and
// appear in the same order in every language.
type Text map[string]string

// In returns the sentence in language l, English when l has none.
func (t Text) In(l string) string {
	if s, ok := t[l]; ok {
		return s
	}
	return t[Default]
}

// Format fills the sentence in language l with args.
func (t Text) Format(l string, args ...any) string { return fmt.Sprintf(t.In(l), args...) }

// The fixed sentences of the assistant: asking for proof of a booking, the
// identity check's outcome, the disclosure window, the hand-off.
var (
	VerifyPrompt = Text{
		EN: "I'd be glad to help with your booking. To keep guests' details private, please first reply with the booking's confirmation code and the last name it is under.",
		ES: "Con gusto le ayudo con su reserva. Para proteger los datos de nuestros huéspedes, responda primero con el código de confirmación de la reserva y el apellido con el que está hecha.",
		FR: "Je serai ravi de vous aider pour votre réservation. Pour protéger les données de nos voyageurs, merci de répondre d'abord avec le code de confirmation de la réservation et le nom de famille sous lequel elle a été faite.",
		DE: "Gern helfe ich Ihnen bei Ihrer Buchung. Zum Schutz der Daten unserer Gäste antworten Sie bitte zuerst mit dem Bestätigungscode der Buchung und dem Nachnamen, auf den sie lautet.",
		IT: "Sarò felice di aiutarla con la sua prenotazione. Per proteggere i dati dei nostri ospiti, risponda prima con il codice di conferma della prenotazione e il cognome a cui è intestata.",
		PT: "Ficarei feliz em ajudar com a sua reserva. Para proteger os dados dos nossos hóspedes, responda primeiro com o código de confirmação da reserva e o sobrenome em que ela foi feita.",
	}
	// mismatch has a singular and a plural form per language (%d attempts left).
	mismatchOne = Text{
		EN: "I couldn't match that confirmation code and last name to a booking. Please check both and send them again (%d attempt left).",
		ES: "No he encontrado ninguna reserva con ese código de confirmación y ese apellido. Compruebe ambos y envíelos de nuevo (le queda %d intento).",
		FR: "Je n'ai trouvé aucune réservation avec ce code de confirmation et ce nom de famille. Vérifiez-les et renvoyez-les (encore %d essai).",
		DE: "Ich konnte diesen Bestätigungscode und Nachnamen keiner Buchung zuordnen. Bitte prüfen Sie beides und senden Sie es erneut (noch %d Versuch).",
		IT: "Non ho trovato nessuna prenotazione con questo codice di conferma e questo cognome. Li controlli e li invii di nuovo (ancora %d tentativo).",
		PT: "Não encontrei nenhuma reserva com esse código de confirmação e esse sobrenome. Verifique os dois e envie novamente (resta %d tentativa).",
	}
	mismatchMany = Text{
		EN: "I couldn't match that confirmation code and last name to a booking. Please check both and send them again (%d attempts left).",
		ES: "No he encontrado ninguna reserva con ese código de confirmación y ese apellido. Compruebe ambos y envíelos de nuevo (le quedan %d intentos).",
		FR: "Je n'ai trouvé aucune réservation avec ce code de confirmation et ce nom de famille. Vérifiez-les et renvoyez-les (encore %d essais).",
		DE: "Ich konnte diesen Bestätigungscode und Nachnamen keiner Buchung zuordnen. Bitte prüfen Sie beides und senden Sie es erneut (noch %d Versuche).",
		IT: "Non ho trovato nessuna prenotazione con questo codice di conferma e questo cognome. Li controlli e li invii di nuovo (ancora %d tentativi).",
		PT: "Não encontrei nenhuma reserva com esse código de confirmação e esse sobrenome. Verifique os dois e envie novamente (restam %d tentativas).",
	}
	Verified = Text{
		EN: "Thank you, your booking is confirmed.",
		ES: "Gracias, su reserva está confirmada.",
		FR: "Merci, votre réservation est confirmée.",
		DE: "Vielen Dank, Ihre Buchung ist bestätigt.",
		IT: "Grazie, la sua prenotazione è confermata.",
		PT: "Obrigado, a sua reserva está confirmada.",
	}
	HowCanIHelp = Text{
		EN: "How can I help?",
		ES: "¿En qué puedo ayudarle?",
		FR: "Comment puis-je vous aider ?",
		DE: "Wie kann ich Ihnen helfen?",
		IT: "Come posso aiutarla?",
		PT: "Como posso ajudar?",
	}
	// SecretsUnconfirmed: the stay is not confirmed or has no dates.
	SecretsUnconfirmed = Text{
		EN: "For everyone's security, the door code, Wi-Fi password and exact address are shared only with confirmed guests, shortly before check-in.",
		ES: "Por la seguridad de todos, el código de la puerta, la contraseña del wifi y la dirección exacta solo se comparten con huéspedes confirmados, poco antes del check-in.",
		FR: "Pour la sécurité de tous, le code de la porte, le mot de passe du Wi-Fi et l'adresse exacte ne sont communiqués qu'aux voyageurs confirmés, peu avant l'arrivée.",
		DE: "Zur Sicherheit aller teilen wir den Türcode, das WLAN-Passwort und die genaue Adresse nur mit bestätigten Gästen, kurz vor dem Check-in.",
		IT: "Per la sicurezza di tutti, il codice della porta, la password del Wi-Fi e l'indirizzo esatto vengono condivisi solo con gli ospiti confermati, poco prima del check-in.",
		PT: "Para a segurança de todos, o código da porta, a senha do Wi-Fi e o endereço exato são compartilhados apenas com hóspedes confirmados, pouco antes do check-in.",
	}
	// SecretsEnded: the stay is over.
	SecretsEnded = Text{
		EN: "Your stay has ended, so the door code, Wi-Fi password and exact address are no longer shared. A team member can help if you need something.",
		ES: "Su estancia ha terminado, así que el código de la puerta, la contraseña del wifi y la dirección exacta ya no se comparten. Un miembro del equipo puede ayudarle si necesita algo.",
		FR: "Votre séjour est terminé : le code de la porte, le mot de passe du Wi-Fi et l'adresse exacte ne sont plus communiqués. Un membre de l'équipe peut vous aider si vous avez besoin de quelque chose.",
		DE: "Ihr Aufenthalt ist beendet, daher teilen wir den Türcode, das WLAN-Passwort und die genaue Adresse nicht mehr. Ein Teammitglied hilft Ihnen gern, wenn Sie etwas brauchen.",
		IT: "Il suo soggiorno è terminato, quindi il codice della porta, la password del Wi-Fi e l'indirizzo esatto non vengono più condivisi. Un membro del team può aiutarla se ha bisogno di qualcosa.",
		PT: "A sua estadia terminou, por isso o código da porta, a senha do Wi-Fi e o endereço exato já não são compartilhados. Um membro da equipe pode ajudar se precisar de algo.",
	}
	// SecretsFrom: when the window opens (At) and how long before check-in (Hours).
	SecretsFrom = Text{
		EN: "For your security, the door code, Wi-Fi password and exact address are shared from %s (%s before check-in). Ask me again then!",
		ES: "Por su seguridad, el código de la puerta, la contraseña del wifi y la dirección exacta se comparten a partir del %s (%s antes del check-in). ¡Pregúnteme de nuevo entonces!",
		FR: "Pour votre sécurité, le code de la porte, le mot de passe du Wi-Fi et l'adresse exacte sont communiqués à partir du %s (%s avant l'arrivée). Redemandez-le-moi à ce moment-là !",
		DE: "Zu Ihrer Sicherheit teilen wir den Türcode, das WLAN-Passwort und die genaue Adresse ab %s (%s vor dem Check-in). Fragen Sie mich dann gern noch einmal!",
		IT: "Per la sua sicurezza, il codice della porta, la password del Wi-Fi e l'indirizzo esatto vengono condivisi a partire da %s (%s prima del check-in). Me lo richieda allora!",
		PT: "Para sua segurança, o código da porta, a senha do Wi-Fi e o endereço exato são compartilhados a partir de %s (%s antes do check-in). Pergunte-me de novo nessa hora!",
	}
	// HandoffAck tells the guest a person takes over. Its English is
	// HANDOFF_MESSAGE's default (lib/replies).
	HandoffAck = Text{
		EN: "Thanks for your message. I have passed it to our team, and a person will reply here shortly.",
		ES: "Gracias por su mensaje. Lo he pasado a nuestro equipo y una persona le responderá aquí en breve.",
		FR: "Merci pour votre message. Je l'ai transmis à notre équipe, et une personne vous répondra ici très bientôt.",
		DE: "Danke für Ihre Nachricht. Ich habe sie an unser Team weitergegeben; eine Person antwortet Ihnen hier in Kürze.",
		IT: "Grazie per il messaggio. L'ho passato al nostro team e una persona le risponderà qui a breve.",
		PT: "Obrigado pela sua mensagem. Encaminhei-a para a nossa equipe e uma pessoa vai responder aqui em breve.",
	}
	// VoiceUnreadable: a voice message the guest can fix (too long, wrong
	// format). English says why (lib/voice.Explain); the other languages
	// do not, since the reason is English free text.
	VoiceUnreadable = Text{
		EN: "Sorry, I could not listen to your voice message. Could you type your question, or send a shorter voice message?",
		ES: "Lo siento, no he podido escuchar su mensaje de voz. ¿Podría escribir su pregunta o enviar un mensaje de voz más corto?",
		FR: "Désolé, je n'ai pas pu écouter votre message vocal. Pourriez-vous écrire votre question, ou envoyer un message vocal plus court ?",
		DE: "Leider konnte ich Ihre Sprachnachricht nicht anhören. Könnten Sie Ihre Frage schreiben oder eine kürzere Sprachnachricht senden?",
		IT: "Mi dispiace, non sono riuscito ad ascoltare il suo messaggio vocale. Potrebbe scrivere la domanda o inviare un messaggio vocale più breve?",
		PT: "Desculpe, não consegui ouvir a sua mensagem de voz. Poderia escrever a sua pergunta ou enviar uma mensagem de voz mais curta?",
	}
)

// Mismatch tells the guest a confirmation code and last name matched no
// booking, with the attempts left.
func Mismatch(l string, left int) string {
	if left == 1 {
		return mismatchOne.Format(l, left)
	}
	return mismatchMany.Format(l, left)
}

var weekdays = map[string][7]string{
	EN: {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
	ES: {"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
	FR: {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
	DE: {"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
	IT: {"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
	PT: {"domingo", "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado"},
}

var months = map[string][12]string{
	EN: {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	ES: {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	FR: {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	DE: {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	IT: {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	PT: {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
}

func known(l string) string {
	if _, ok := weekdays[l]; ok {
		return l
	}
	return Default
}

// Day names t's day as the language writes it before a time, with the
// year when withYear: "Friday 18 July", "viernes 18 de julio", "vendredi
// 18 juillet", "Freitag, 18. Juli", "venerdì 18 luglio", "sexta-feira, 18
// de julho".
func Day(l string, t time.Time, withYear bool) string {
	l = known(l)
	wd, m, d := weekdays[l][t.Weekday()], months[l][t.Month()-1], t.Day()
	var s string
	switch l {
	case ES:
		s = fmt.Sprintf("%s %d de %s", wd, d, m)
	case DE:
		s = fmt.Sprintf("%s, %d. %s", wd, d, m)
	case PT:
		s = fmt.Sprintf("%s, %d de %s", wd, d, m)
	default: // en, fr, it
		s = fmt.Sprintf("%s %d %s", wd, d, m)
	}
	if withYear {
		switch l {
		case ES, PT:
			s += fmt.Sprintf(" de %d", t.Year())
		default:
			s += fmt.Sprintf(" %d", t.Year())
		}
	}
	return s
}

// Clock is t's time of day: "3:00 PM" in English, "15:00" elsewhere.
func Clock(l string, t time.Time) string {
	if known(l) == EN {
		return t.Format("3:04 PM")
	}
	return t.Format("15:04")
}

// At is a day and a time, to follow a preposition that the sentence
// holds: "Friday 18 July at 3:00 PM", "viernes 18 de julio a las 15:00",
// "vendredi 18 juillet à 15:00", "Freitag, 18. Juli, 15:00 Uhr",
// "venerdì 18 luglio alle 15:00", "sexta-feira, 18 de julho, às 15:00".
func At(l string, t time.Time, withYear bool) string {
	l = known(l)
	day, clock := Day(l, t, withYear), Clock(l, t)
	one := t.Hour() == 1 // "a la 1:00", "à 1:00", "all'1:00"
	switch l {
	case ES:
		if one {
			return day + " a la " + clock
		}
		return day + " a las " + clock
	case FR:
		return day + " à " + clock
	case DE:
		return day + ", " + clock + " Uhr"
	case IT:
		if one {
			return day + " all'" + clock
		}
		return day + " alle " + clock
	case PT:
		if one {
			return day + ", à " + clock
		}
		return day + ", às " + clock
	}
	return day + " at " + clock
}

var hourWords = map[string][2]string{
	EN: {"hour", "hours"}, ES: {"hora", "horas"}, FR: {"heure", "heures"},
	DE: {"Stunde", "Stunden"}, IT: {"ora", "ore"}, PT: {"hora", "horas"},
}

var minuteWords = map[string][2]string{
	EN: {"minute", "minutes"}, ES: {"minuto", "minutos"}, FR: {"minute", "minutes"},
	DE: {"Minute", "Minuten"}, IT: {"minuto", "minuti"}, PT: {"minuto", "minutos"},
}

// Duration says d in whole hours ("24 hours", "24 Stunden"), or in minutes
// when it is not a whole number of hours.
func Duration(l string, d time.Duration) string {
	l = known(l)
	n, w := int(d/time.Hour), hourWords[l]
	if d%time.Hour != 0 {
		n, w = int(d/time.Minute), minuteWords[l]
	}
	if n == 1 {
		return fmt.Sprintf("%d %s", n, w[0])
	}
	return fmt.Sprintf("%d %s", n, w[1])
}

// OnDay is Day with the preposition a sentence needs before it: "on Friday
// 18 July", "el viernes 18 de julio", "le vendredi 18 juillet", "am
// Freitag, 18. Juli", "venerdì 18 luglio", "na sexta-feira, 18 de julho"
// ("no sábado": the Portuguese weekend days are masculine).
func OnDay(l string, t time.Time, withYear bool) string {
	l = known(l)
	day := Day(l, t, withYear)
	switch l {
	case ES:
		return "el " + day
	case FR:
		return "le " + day
	case DE:
		return "am " + day
	case IT:
		return day
	case PT:
		if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
			return "no " + day
		}
		return "na " + day
	}
	return "on " + day
}

// Problems lists what is wrong with t: a supported language missing, or a
// translation whose placeholders differ from the English ones. Tests of
// every package that writes a Text call it.
func (t Text) Problems() []string {
	var out []string
	want := verbs(t[Default])
	for _, l := range Supported {
		s, ok := t[l]
		switch {
		case !ok || s == "":
			out = append(out, "no "+l)
		case verbs(s) != want:
			out = append(out, fmt.Sprintf("%s has placeholders %q, English %q", l, verbs(s), want))
		}
	}
	return out
}

// verbs lists a format string's verbs in order ("%s%d").
func verbs(s string) string {
	var b []byte
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' {
			b = append(b, '%', s[i+1])
			i++
		}
	}
	return string(b)
}
