package answer

import "github.com/harborstays/concierge/lib/lang"

// The offline answerer's sentences, per language. A reservation fact is
// said in the guest's language; a listing's or a policy's own words are
// quoted in English inside a localized frame, never translated.
var (
	// checkInText and checkOutText: the day (lang.OnDay) and the time
	// (lang.Clock) from the guest's reservation.
	checkInText = lang.Text{
		lang.EN: "Check-in is %s from %s.",
		lang.ES: "El check-in es %s a partir de las %s.",
		lang.FR: "L'arrivée (check-in) se fait %s à partir de %s.",
		lang.DE: "Der Check-in ist %s ab %s Uhr.",
		lang.IT: "Il check-in è %s dalle %s.",
		lang.PT: "O check-in é %s, a partir das %s.",
	}
	checkOutText = lang.Text{
		lang.EN: "Check-out is %s by %s.",
		lang.ES: "La salida (check-out) es %s, antes de las %s.",
		lang.FR: "Le départ (check-out) se fait %s, au plus tard à %s.",
		lang.DE: "Der Check-out ist %s bis %s Uhr.",
		lang.IT: "Il check-out è %s entro le %s.",
		lang.PT: "O check-out é %s, até às %s.",
	}
	// listingLead and sharedLead introduce quoted English text about a
	// topic (Intent.Topic) from the home's listing or the shared policies.
	listingLead = lang.Text{
		lang.EN: "About %s, the listing says:",
		lang.ES: "Sobre %s, la información del alojamiento dice (en inglés):",
		lang.FR: "Concernant %s, la fiche du logement indique (en anglais) :",
		lang.DE: "Zum Thema %s steht in den Angaben zur Unterkunft (auf Englisch):",
		lang.IT: "Per quanto riguarda %s, la scheda dell'alloggio dice (in inglese):",
		lang.PT: "Sobre %s, a descrição da acomodação diz (em inglês):",
	}
	sharedLead = lang.Text{
		lang.EN: "About %s, our house policies say:",
		lang.ES: "Sobre %s, nuestras normas generales dicen (en inglés):",
		lang.FR: "Concernant %s, nos règles générales indiquent (en anglais) :",
		lang.DE: "Zum Thema %s steht in unseren allgemeinen Regeln (auf Englisch):",
		lang.IT: "Per quanto riguarda %s, le nostre regole generali dicono (in inglese):",
		lang.PT: "Sobre %s, as nossas regras gerais dizem (em inglês):",
	}
	// restLead introduces the best sentences quoted for a question no
	// intent covers.
	restLead = lang.Text{
		lang.EN: "Here is what I found:",
		lang.ES: "Esto es lo que dice la información que tengo (en inglés):",
		lang.FR: "Voici ce qu'indiquent mes informations (en anglais) :",
		lang.DE: "Dazu steht in meinen Informationen (auf Englisch):",
		lang.IT: "Ecco cosa dicono le informazioni che ho (in inglese):",
		lang.PT: "Isto é o que dizem as informações que tenho (em inglês):",
	}
	sourceLine = lang.Text{
		lang.EN: "(Source: %s)",
		lang.ES: "(Fuente: %s)",
		lang.FR: "(Source : %s)",
		lang.DE: "(Quelle: %s)",
		lang.IT: "(Fonte: %s)",
		lang.PT: "(Fonte: %s)",
	}
	reservationTitle = lang.Text{
		lang.EN: "Your reservation",
		lang.ES: "Su reserva",
		lang.FR: "Votre réservation",
		lang.DE: "Ihre Buchung",
		lang.IT: "La sua prenotazione",
		lang.PT: "A sua reserva",
	}
)
