package dev.once.proxy;

/** Failures as the proxy tells them: one line, no object dumps, no addresses, no user-info. */
final class Errors {
    private Errors() {}

    /**
     * The failure's type and, when it is short and plain, its message: Jetty's messages often carry
     * object dumps ({@code HttpConnectionOverHTTP@1a2b::SocketChannelEndPoint@...}) with local addresses.
     */
    static String oneLine(Throwable t) {
        String type = t.getClass().getSimpleName();
        return plain(t.getMessage()) ? type + ": " + t.getMessage() : type;
    }

    /**
     * {@link #oneLine}, or when the failure's own message will not do, the first cause's that will: a
     * store's failure, whose message names a long key and whose cause says why (not for the upstream's
     * failures, whose causes may quote a request's target).
     */
    static String withCause(Throwable t) {
        String type = t.getClass().getSimpleName();
        if (plain(t.getMessage())) return type + ": " + t.getMessage();
        for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause())
            if (plain(c.getMessage())) return type + " (" + c.getClass().getSimpleName() + ": " + c.getMessage() + ")";
        return type;
    }

    private static boolean plain(String m) {
        return m != null && m.length() <= 160 && !m.contains("@") && !m.contains("\n");
    }
}
