package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * deploy/kubernetes.yaml, checked against the Kubernetes API types and against what running
 * {@code once serve} on Kubernetes needs (issue 14). The types are fabric8's models, generated from the
 * Kubernetes OpenAPI spec: a field that the API does not have, or a value of the wrong type, fails here
 * as {@code kubectl apply --validate=strict} would fail on a cluster.
 */
class ManifestTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Map<String, Class<? extends HasMetadata>> TYPES = Map.of(
            "v1/Secret", Secret.class,
            "v1/Service", Service.class,
            "apps/v1/Deployment", Deployment.class,
            "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class);

    private static final List<HasMetadata> objects = new ArrayList<>();
    private static Deployment deployment;
    private static Container container;

    @BeforeAll
    static void read() throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectMapper strict = JsonMapper.builder()
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .build();
        try (var parser =
                yaml.createParser(ROOT.resolve("deploy/kubernetes.yaml").toFile())) {
            for (JsonNode doc : yaml.readValues(parser, JsonNode.class).readAll()) {
                String type =
                        doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
                assertThat(TYPES).as("a known kind: " + type).containsKey(type);
                objects.add(strict.treeToValue(doc, TYPES.get(type)));
            }
        }
        deployment = one(Deployment.class);
        container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
    }

    @Test
    void everyObject_onlyFieldsTheKubernetesApiHas() throws Exception {
        assertThat(objects).hasSize(4);
        for (HasMetadata o : objects) {
            List<String> unknown = new ArrayList<>();
            unknownFields(o, o.getKind(), unknown, new IdentityHashMap<>());
            assertThat(unknown).as("fields the Kubernetes API does not have").isEmpty();
            assertThat(o.getMetadata().getName()).isEqualTo("once");
        }
    }

    @Test
    void deployment_threeReplicasWithResourceRequests() {
        assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
        assertThat(deployment.getSpec().getSelector().getMatchLabels())
                .isEqualTo(deployment.getSpec().getTemplate().getMetadata().getLabels());
        assertThat(container.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(container.getResources().getLimits()).containsKey("memory");
        assertThat(deployment
                        .getSpec()
                        .getStrategy()
                        .getRollingUpdate()
                        .getMaxUnavailable()
                        .getIntVal())
                .isZero();
    }

    @Test
    void probes_onHealthByTheNamedPort() {
        int port = container.getPorts().stream()
                .filter(p -> "http".equals(p.getName()))
                .findFirst()
                .orElseThrow()
                .getContainerPort();
        assertThat(port).isEqualTo(Integer.parseInt(dockerfile("EXPOSE (\\d+)")));
        assertThat(env("ONCE_PORT")).isNull(); // the image's default (8080) is the port declared here
        for (Probe probe :
                List.of(container.getReadinessProbe(), container.getLivenessProbe(), container.getStartupProbe())) {
            assertThat(probe.getHttpGet().getPath()).isEqualTo("/-/health");
            assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("http");
        }
        // unready soon after SIGTERM closes the listener: within one period and timeout, before the drain ends
        Probe readiness = container.getReadinessProbe();
        assertThat((readiness.getPeriodSeconds() + readiness.getTimeoutSeconds()) * readiness.getFailureThreshold())
                .isLessThan(drainSeconds());
    }

    @Test
    void grace_longerThanPreStopPlusDrain() {
        int preStop = Integer.parseInt(
                container.getLifecycle().getPreStop().getExec().getCommand().get(1));
        assertThat(container.getLifecycle().getPreStop().getExec().getCommand().get(0))
                .isEqualTo("sleep");
        assertThat(deployment.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
                .isGreaterThan(preStop + drainSeconds());
    }

    @Test
    void podDisruptionBudget_keepsTwoAndAllowsOneDisruption() {
        PodDisruptionBudget pdb = one(PodDisruptionBudget.class);
        assertThat(pdb.getSpec().getSelector().getMatchLabels())
                .isEqualTo(deployment.getSpec().getTemplate().getMetadata().getLabels());
        int minAvailable = pdb.getSpec().getMinAvailable().getIntVal();
        assertThat(minAvailable)
                .isGreaterThanOrEqualTo(2)
                .isLessThan(deployment.getSpec().getReplicas());
    }

    @Test
    void secret_holdsTheDatabaseUrlAndAdminToken_readByTheContainer() {
        Secret secret = one(Secret.class);
        assertThat(secret.getStringData())
                .containsKeys("ONCE_DB_URL", "ONCE_DB_USER", "ONCE_DB_PASSWORD", "ONCE_ADMIN_TOKEN", "ONCE_KEY_SECRET");
        assertThat(container.getEnvFrom())
                .anySatisfy(from -> assertThat(from.getSecretRef().getName())
                        .isEqualTo(secret.getMetadata().getName()));
        for (String key : secret.getStringData().keySet())
            assertThat(env(key)).as(key + " set in plain env").isNull();
        assertThat(secret.getStringData().get("ONCE_DB_URL")).startsWith("jdbc:postgresql://");
    }

    @Test
    void pod_runsAsTheImagesNonRootUser() {
        var pod = deployment.getSpec().getTemplate().getSpec();
        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(Long.parseLong(dockerfile("USER (\\d+)")));
        assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(container.getVolumeMounts())
                .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/tmp"));
        assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
    }

    @Test
    void service_selectsThePodsByTheNamedPort() {
        Service service = one(Service.class);
        assertThat(service.getSpec().getSelector())
                .isEqualTo(deployment.getSpec().getTemplate().getMetadata().getLabels());
        assertThat(service.getSpec().getPorts().get(0).getTargetPort().getStrVal())
                .isEqualTo("http");
    }

    private static int drainSeconds() {
        String drain = env("ONCE_DRAIN");
        assertThat(drain).as("ONCE_DRAIN set explicitly").matches("\\d+s");
        return Integer.parseInt(drain.substring(0, drain.length() - 1));
    }

    private static String env(String name) {
        return container.getEnv().stream()
                .filter(e -> e.getName().equals(name))
                .map(e -> e.getValue())
                .findFirst()
                .orElse(null);
    }

    private static String dockerfile(String regex) {
        try {
            Matcher m = Pattern.compile("(?m)^" + regex).matcher(Files.readString(ROOT.resolve("deploy/Dockerfile")));
            assertThat(m.find()).as("deploy/Dockerfile has " + regex).isTrue();
            return m.group(1);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static <T> T one(Class<T> type) {
        List<T> found =
                objects.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(found).as(type.getSimpleName()).hasSize(1);
        return found.get(0);
    }

    /**
     * fabric8's models keep fields they do not know in {@code additionalProperties} instead of failing;
     * walks every model object and collects those, with their path.
     */
    private static void unknownFields(Object o, String path, List<String> unknown, Map<Object, Boolean> seen)
            throws Exception {
        if (o == null || seen.put(o, true) != null) return;
        if (o instanceof Collection<?> c) {
            int i = 0;
            for (Object e : c) unknownFields(e, path + "[" + i++ + "]", unknown, seen);
            return;
        }
        if (o instanceof Map<?, ?> m) {
            for (var e : m.entrySet()) unknownFields(e.getValue(), path + "." + e.getKey(), unknown, seen);
            return;
        }
        if (!o.getClass().getName().startsWith("io.fabric8.")) return;
        for (Method getter : o.getClass().getMethods()) {
            if (getter.getParameterCount() != 0
                    || !getter.getName().startsWith("get")
                    || getter.getName().equals("getClass")) {
                continue;
            }
            Object value = getter.invoke(o);
            if (getter.getName().equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    for (Object key : extra.keySet()) unknown.add(path + "." + key);
                }
            } else if (!Set.of("getApiVersion", "getKind").contains(getter.getName())) {
                unknownFields(value, path + "." + decapitalize(getter.getName().substring(3)), unknown, seen);
            }
        }
    }

    private static String decapitalize(String s) {
        return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }
}
