# Hindi numbers as India groups them (12,34,567), like the browser's Intl.NumberFormat("hi")
# that the pages' script uses; Django's own Hindi formats group by three. Everything else
# comes from Django's.
NUMBER_GROUPING = (3, 2, 0)
