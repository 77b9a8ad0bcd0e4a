-- OR of tsqueries without a round trip through text (re-parsing a
-- hyphenated lexeme such as 'check-in' splits it again).
CREATE AGGREGATE tsquery_or_agg(tsquery) (SFUNC = tsquery_or, STYPE = tsquery);
