// Runs a chain of the real Kafka Connect / Debezium transforms over recorded Debezium events and
// writes what comes out, in the format of tests/fixtures/transforms/expected (its README says
// how each input line becomes a SourceRecord and how outputs are serialized).
//
//   java -cp "<libs>/*:." SmtChain <chain.properties> <input.jsonl> <output.jsonl>
//
// The chain is built as Kafka Connect configures one: `transforms` in order, each alias's
// `transforms.<alias>.*` options, `predicate`/`negate` with `predicates.<name>.*`. A record a
// transform drops writes nothing; one that throws writes an error line (errors.tolerance=all).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.FileReader;
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

public class SmtChain {
    static final ObjectMapper JSON = new ObjectMapper();

    static class Stage {
        Transformation<SourceRecord> transform;
        Predicate<SourceRecord> predicate;
        boolean negate;
        String cls;
    }

    static Map<String, String> withPrefix(Properties p, String prefix) {
        Map<String, String> out = new HashMap<>();
        for (String k : p.stringPropertyNames()) {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), p.getProperty(k));
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        List<Stage> stages = new ArrayList<>();
        for (String alias : props.getProperty("transforms", "").split(",")) {
            alias = alias.trim();
            if (alias.isEmpty()) continue;
            Map<String, String> cfg = withPrefix(props, "transforms." + alias + ".");
            Stage s = new Stage();
            s.cls = cfg.remove("type");
            String pred = cfg.remove("predicate");
            s.negate = Boolean.parseBoolean(cfg.remove("negate"));
            s.transform = (Transformation<SourceRecord>) Class.forName(s.cls).getDeclaredConstructor().newInstance();
            s.transform.configure(cfg);
            if (pred != null) {
                Map<String, String> pcfg = withPrefix(props, "predicates." + pred + ".");
                String pcls = pcfg.remove("type");
                s.predicate = (Predicate<SourceRecord>) Class.forName(pcls).getDeclaredConstructor().newInstance();
                s.predicate.configure(pcfg);
            }
            stages.add(s);
        }
        JsonConverter keyIn = converter(true, true), valueIn = converter(false, true);
        JsonConverter keyOn = converter(true, true), valueOn = converter(false, true);
        JsonConverter keyOff = converter(true, false), valueOff = converter(false, false);
        JsonConverter headerOn = converter(false, true);
        SimpleHeaderConverter simple = new SimpleHeaderConverter();
        simple.configure(Map.of());
        try (BufferedReader in = new BufferedReader(new FileReader(args[1], StandardCharsets.UTF_8));
             BufferedWriter out = new BufferedWriter(new FileWriter(args[2], StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                JsonNode l = JSON.readTree(line);
                String topic = l.get("topic").asText();
                SchemaAndValue key = l.get("key").isNull() ? SchemaAndValue.NULL
                        : keyIn.toConnectData(topic, JSON.writeValueAsBytes(l.get("key")));
                SchemaAndValue value = l.get("value").isNull() ? SchemaAndValue.NULL
                        : valueIn.toConnectData(topic, JSON.writeValueAsBytes(l.get("value")));
                Long ts = l.get("value").isNull() || !l.get("value").path("payload").has("ts_ms") ? null
                        : l.get("value").get("payload").get("ts_ms").asLong();
                SourceRecord r = new SourceRecord(null, null, topic, null, key.schema(), key.value(),
                        value.schema(), value.value(), ts, new ConnectHeaders());
                ObjectNode o = JSON.createObjectNode();
                o.set("seq", l.get("seq"));
                o.set("label", l.get("label"));
                String failed = null;
                String failedClass = null;
                for (Stage s : stages) {
                    if (r == null) break;
                    if (s.predicate != null && s.predicate.test(r) == s.negate) continue;
                    try {
                        r = s.transform.apply(r);
                    } catch (Exception e) {
                        failed = e.getClass().getName() + ": " + e.getMessage();
                        failedClass = s.cls;
                        break;
                    }
                }
                if (failed != null) {
                    o.put("error", failed);
                    o.put("error_stage", "TRANSFORMATION");
                    o.put("error_executing_class", failedClass);
                    out.write(JSON.writeValueAsString(o));
                    out.newLine();
                    continue;
                }
                if (r == null) continue;
                try {
                    ArrayNode headers = JSON.createArrayNode(), headersSimple = JSON.createArrayNode();
                    for (Header h : r.headers()) {
                        byte[] full = headerOn.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value());
                        byte[] plain = simple.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value());
                        headers.add(JSON.createArrayNode().add(h.key()).add(full == null ? null : JSON.readTree(full)));
                        headersSimple.add(JSON.createArrayNode().add(h.key())
                                .add(plain == null ? null : new String(plain, StandardCharsets.UTF_8)));
                    }
                    byte[] kOn = keyOn.fromConnectData(r.topic(), r.keySchema(), r.key());
                    byte[] vOn = valueOn.fromConnectData(r.topic(), r.valueSchema(), r.value());
                    byte[] kOff = keyOff.fromConnectData(r.topic(), r.keySchema(), r.key());
                    byte[] vOff = valueOff.fromConnectData(r.topic(), r.valueSchema(), r.value());
                    o.put("topic", r.topic());
                    if (r.kafkaPartition() == null) o.putNull("partition"); else o.put("partition", r.kafkaPartition());
                    if (r.timestamp() == null) o.putNull("timestamp"); else o.put("timestamp", r.timestamp());
                    o.set("key", kOn == null ? null : JSON.readTree(kOn));
                    o.set("value", vOn == null ? null : JSON.readTree(vOn));
                    o.put("key_bytes_null", kOn == null);
                    o.put("value_bytes_null", vOn == null);
                    o.set("headers", headers);
                    o.set("headers_simple", headersSimple);
                    o.set("key_schemaless", kOff == null ? null : JSON.readTree(kOff));
                    o.set("value_schemaless", vOff == null ? null : JSON.readTree(vOff));
                } catch (Exception e) {
                    o = JSON.createObjectNode();
                    o.set("seq", l.get("seq"));
                    o.set("label", l.get("label"));
                    o.put("error", e.getClass().getName() + ": " + e.getMessage());
                    o.put("error_stage", "VALUE_CONVERTER");
                    o.putNull("error_executing_class");
                }
                out.write(JSON.writeValueAsString(o));
                out.newLine();
            }
        }
    }

    static JsonConverter converter(boolean key, boolean schemas) {
        JsonConverter c = new JsonConverter();
        c.configure(Map.of("schemas.enable", String.valueOf(schemas)), key);
        return c;
    }
}
