package dev.once.spring.hostile;

/**
 * Stands for a gadget class: loading it (static initialiser) or making one (constructor, setter) leaves
 * a mark in a system property, which the tests read without touching this class.
 */
public class Gadget {
    public static final String MARK = "once.test.gadget";

    static {
        System.setProperty(MARK, "initialised");
    }

    public Gadget() {
        System.setProperty(MARK, "constructed");
    }

    public void setCommand(String command) {
        System.setProperty(MARK, "ran " + command);
    }
}
