package dev.once.spring.values;

/** An interface value type without @JsonTypeInfo: JSON alone cannot say which shape it is. */
public sealed interface Shape permits Shape.Circle, Shape.Square {
    record Circle(double r) implements Shape {}

    record Square(double side) implements Shape {}
}
