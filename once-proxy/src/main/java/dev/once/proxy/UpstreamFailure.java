package dev.once.proxy;

/** The upstream could not answer: 502 (unreachable, broken), 503 (too many waiting) or 504 (too slow). Never cached. */
final class UpstreamFailure extends RuntimeException {
    /** Why a key's other requests get 503 when its answer could not be held in the answer memory. */
    static final String OVER_MEMORY =
            "the proxy holds its limit of answers in flight: this answer went to the request that fetched it"
                    + " alone; retry shortly";

    final int status;

    UpstreamFailure(int status, String reason, Throwable cause) {
        super(reason, cause);
        this.status = status;
    }

    /**
     * The failure another replica's load met, from the error text once-cache carries to its waiters
     * ({@code ...UpstreamFailure: <reason>}), so they answer with the leader's status and reason; null
     * when the text is not an upstream failure.
     */
    static UpstreamFailure fromElsewhere(String error) {
        if (error == null) return null;
        String marker = UpstreamFailure.class.getName() + ": ";
        int at = error.lastIndexOf(marker);
        if (at < 0) return null;
        String reason = error.substring(at + marker.length()).strip();
        int status = reason.startsWith("the upstream did not answer within")
                ? 504
                : reason.startsWith("too many requests waiting") || reason.startsWith(OVER_MEMORY) ? 503 : 502;
        return new UpstreamFailure(status, reason + " (in another replica's call, shared by the waiters)", null);
    }
}
