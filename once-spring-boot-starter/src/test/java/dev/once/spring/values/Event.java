package dev.once.spring.values;

import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** A value in the allowed package whose payload names its own class in the JSON (@JsonTypeInfo). */
public record Event(
        String name,
        @JsonTypeInfo(use = JsonTypeInfo.Id.CLASS) Object payload) {}
