package answer

import "github.com/harborstays/concierge/lib/config"

// Settings of the answering policy. llm-query's answer job and the
// console's playground both decide with them, so they live here rather
// than in lib/bot: the console does not link the bot's intake (and with it
// libphonenumber).
var (
	SettingDiscloseBefore = config.Register(config.Setting{Name: "SECRETS_DISCLOSE_BEFORE", Default: "24h",
		Help: "door codes, Wi-Fi and the exact address are shared from this long before check-in until check-out", Used: "llm-query"})
	SettingTopics = config.Register(config.Setting{Name: "HANDOFF_TOPICS", Default: DefaultTopics,
		Help: "restricted topics handed to a person: name:keyword|keyword;... (* = any ending, a leading * any beginning; the first topic matched names the hand-off); default in lib/answer/policy.go", Used: "llm-query"})
	SettingPersonWords = config.Register(config.Setting{Name: "HANDOFF_PERSON_WORDS", Default: DefaultPerson,
		Help: "ways of asking for a person: keyword|keyword; default in lib/answer/policy.go", Used: "llm-query"})
	SettingSecretWords = config.Register(config.Setting{Name: "SECRET_QUESTION_WORDS", Default: DefaultSecrets,
		Help: "ways of asking for stay-only details (codes, Wi-Fi, address): keyword|keyword; default in lib/answer/policy.go", Used: "llm-query"})
	SettingStayWords = config.Register(config.Setting{Name: "STAY_QUESTION_WORDS", Default: DefaultStay,
		Help: "ways of asking about one's own booking; an unverified contact is asked for its confirmation code and last name first: keyword|keyword", Used: "llm-query"})
)
