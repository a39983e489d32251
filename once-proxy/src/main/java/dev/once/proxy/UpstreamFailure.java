package dev.once.proxy;

/** The upstream could not answer: 502 (unreachable, broken) or 504 (too slow). Never cached. */
final class UpstreamFailure extends RuntimeException {
    final int status;

    UpstreamFailure(int status, String reason, Throwable cause) {
        super(reason, cause);
        this.status = status;
    }
}
