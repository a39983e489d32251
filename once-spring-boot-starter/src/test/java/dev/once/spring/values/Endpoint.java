package dev.once.spring.values;

/**
 * Stands for an application service in the allowed package that Jackson could build from a string (a
 * one-String constructor): making one leaves a mark in a system property.
 */
public class Endpoint {
    public static final String MARK = "once.test.endpoint";

    public Endpoint(String url) {
        System.setProperty(MARK, url);
    }
}
