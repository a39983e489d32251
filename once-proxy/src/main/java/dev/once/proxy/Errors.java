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
        String m = t.getMessage();
        if (m == null || m.length() > 160 || m.contains("@") || m.contains("\n")) return type;
        return type + ": " + m;
    }
}
