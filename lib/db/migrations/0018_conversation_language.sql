-- The guest's language, per conversation (issue 16). language is what the
-- guest's own messages were last detected to be written in (lib/lang): a
-- message too short to tell ("wifi?") is answered in it. language_hint is
-- what Chatwoot reports before any message tells (the web widget's
-- browser_language). Both hold a language the assistant speaks (en, es,
-- fr, de, it, pt) or NULL; an absent one means English.
ALTER TABLE conversations
    ADD COLUMN language text,
    ADD COLUMN language_hint text;
