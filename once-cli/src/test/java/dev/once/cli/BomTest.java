package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/** once-bom has no parent (so it manages only Once's modules): its version and its list are kept here. */
class BomTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    @Test
    void bom_sameVersionAsTheBuild_listsEveryLibraryAndNothingElse() throws Exception {
        Document parent = read(ROOT.resolve("pom.xml"));
        Document bom = read(ROOT.resolve("once-bom/pom.xml"));
        assertThat(child(bom.getDocumentElement(), "version")).isEqualTo(child(parent.getDocumentElement(), "version"));
        assertThat(child(bom.getDocumentElement(), "parent")).isNull();

        List<String> libraries = new ArrayList<>();
        NodeList modules = parent.getElementsByTagName("module");
        for (int i = 0; i < modules.getLength(); i++) {
            String module = modules.item(i).getTextContent().trim();
            boolean library = !module.equals("once-cli")
                    && !module.equals("once-jmh")
                    && !module.startsWith("examples/")
                    && Files.isDirectory(ROOT.resolve(module).resolve("src/main/java"));
            if (library) libraries.add(module);
        }
        List<String> managed = new ArrayList<>();
        NodeList deps = bom.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            assertThat(child(d, "groupId")).isEqualTo("dev.once");
            assertThat(child(d, "version")).isEqualTo("${project.version}");
            managed.add(child(d, "artifactId"));
        }
        assertThat(libraries).contains("once-jdbc", "once-cache", "once-proxy");
        assertThat(managed)
                .as("once-bom/pom.xml manages every library module of the build (add a new one there)")
                .containsExactlyInAnyOrderElementsOf(libraries);
    }

    private static Document read(Path pom) throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
    }

    private static String child(Element e, String name) {
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element c && c.getTagName().equals(name))
                return c.getTextContent().trim();
        }
        return null;
    }
}
