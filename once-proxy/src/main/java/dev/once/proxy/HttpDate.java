package dev.once.proxy;

import java.time.LocalDateTime;
import java.time.Year;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RFC 9110 5.6.7 dates, strictly: IMF-fixdate, and the obsolete RFC 850 and asctime forms that
 * recipients must accept; anything else (another zone, a missing comma, a one-digit hour) is invalid.
 * Names are compared without regard to case.
 */
final class HttpDate {
    private static final String DAY = "(mon|tue|wed|thu|fri|sat|sun)";
    private static final String MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)";
    private static final String TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
    private static final Pattern IMF =
            Pattern.compile(DAY + ", (\\d{2}) " + MONTH + " (\\d{4}) " + TIME + " gmt", Pattern.CASE_INSENSITIVE);
    private static final Pattern RFC850 = Pattern.compile(
            "(monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\\d{2})-" + MONTH + "-(\\d{2}) " + TIME
                    + " gmt",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern ASCTIME =
            Pattern.compile(DAY + " " + MONTH + " ([ \\d]\\d) " + TIME + " (\\d{4})", Pattern.CASE_INSENSITIVE);
    private static final List<String> MONTHS =
            List.of("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec");

    private HttpDate() {}

    /** Epoch milliseconds, or -1 when the text is not an HTTP date. */
    static long parse(String text) {
        Matcher m = IMF.matcher(text);
        if (m.matches()) return at(m.group(4), m.group(3), m.group(2), m.group(5), m.group(6), m.group(7));
        m = RFC850.matcher(text);
        if (m.matches()) {
            int yy = Integer.parseInt(m.group(4));
            int thisYear = Year.now(ZoneOffset.UTC).getValue();
            int year = thisYear - thisYear % 100 + yy;
            if (year > thisYear + 50) year -= 100; // RFC 9110: more than 50 years ahead means the last century
            return at(Integer.toString(year), m.group(3), m.group(2), m.group(5), m.group(6), m.group(7));
        }
        m = ASCTIME.matcher(text);
        if (m.matches()) return at(m.group(7), m.group(2), m.group(3).trim(), m.group(4), m.group(5), m.group(6));
        return -1;
    }

    private static long at(String year, String month, String day, String hour, String minute, String second) {
        try {
            return LocalDateTime.of(
                            Integer.parseInt(year),
                            MONTHS.indexOf(month.toLowerCase(Locale.ROOT)) + 1,
                            Integer.parseInt(day),
                            Integer.parseInt(hour),
                            Integer.parseInt(minute),
                            Integer.parseInt(second))
                    .toInstant(ZoneOffset.UTC)
                    .toEpochMilli();
        } catch (java.time.DateTimeException e) {
            return -1; // 31 Feb, 25:00:00
        }
    }
}
