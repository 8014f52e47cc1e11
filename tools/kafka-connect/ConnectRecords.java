// Prints the records Kafka Connect 4.3 itself writes to its config, offset and status topics for
// a fixed set of inputs, one JSON object per line: {"topic", "key", "value"} with key and value
// as the exact UTF-8 text of the record (value null for a tombstone). runnel's distributed mode
// must write these byte for byte; tools/kafka-connect/vectors.sh records them as a fixture.
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.utils.Time;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.runtime.AbstractStatus;
import org.apache.kafka.connect.runtime.ConnectorStatus;
import org.apache.kafka.connect.runtime.TargetState;
import org.apache.kafka.connect.runtime.TaskStatus;
import org.apache.kafka.connect.storage.KafkaConfigBackingStore;
import org.apache.kafka.connect.storage.KafkaStatusBackingStore;
import org.apache.kafka.connect.util.ConnectorTaskId;

public class ConnectRecords {
    static JsonConverter converter(boolean isKey) {
        // Kafka Connect's internal converter: JsonConverter without schemas.
        JsonConverter c = new JsonConverter();
        c.configure(Map.of("schemas.enable", "false"), isKey);
        return c;
    }

    static String text(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static String quote(String s) {
        if (s == null) return "null";
        StringBuilder out = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (ch < 0x20) out.append(String.format("\\u%04x", (int) ch)); else out.append(ch);
            }
        }
        return out.append('"').toString();
    }

    static void emit(String topic, String key, byte[] value) {
        System.out.println("{\"topic\":" + quote(topic) + ",\"key\":" + quote(key) + ",\"value\":" + quote(text(value)) + "}");
    }

    public static void main(String[] args) throws Exception {
        JsonConverter value = converter(false);
        JsonConverter key = converter(true);

        // Config topic.
        Map<String, String> props = new LinkedHashMap<>();
        props.put("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        props.put("database.hostname", "db");
        props.put("database.password", "${file:/secrets/db.properties:password}");
        props.put("name", "inventory");
        props.put("tasks.max", "1");
        props.put("topic.prefix", "inv");
        Struct config = new Struct(KafkaConfigBackingStore.CONNECTOR_CONFIGURATION_V0).put("properties", props);
        emit("config", KafkaConfigBackingStore.CONNECTOR_KEY("inventory"),
            value.fromConnectData("connect-configs", KafkaConfigBackingStore.CONNECTOR_CONFIGURATION_V0, config));
        Struct task = new Struct(KafkaConfigBackingStore.TASK_CONFIGURATION_V0).put("properties", props);
        emit("config", KafkaConfigBackingStore.TASK_KEY(new ConnectorTaskId("inventory", 0)),
            value.fromConnectData("connect-configs", KafkaConfigBackingStore.TASK_CONFIGURATION_V0, task));
        Struct commit = new Struct(KafkaConfigBackingStore.CONNECTOR_TASKS_COMMIT_V0).put("tasks", 1);
        emit("config", KafkaConfigBackingStore.COMMIT_TASKS_KEY("inventory"),
            value.fromConnectData("connect-configs", KafkaConfigBackingStore.CONNECTOR_TASKS_COMMIT_V0, commit));
        Method targetState = KafkaConfigBackingStore.class.getDeclaredMethod("serializeTargetState", TargetState.class);
        targetState.setAccessible(true);
        Object store = allocate(KafkaConfigBackingStore.class, value);
        for (TargetState s : TargetState.values()) {
            emit("config", KafkaConfigBackingStore.TARGET_STATE_KEY("inventory-" + s.name().toLowerCase()),
                (byte[]) targetState.invoke(store, s));
        }
        Struct restart = new Struct(KafkaConfigBackingStore.RESTART_REQUEST_V0)
            .put("include-tasks", true).put("only-failed", false);
        emit("config", KafkaConfigBackingStore.RESTART_KEY("inventory"),
            value.fromConnectData("connect-configs", KafkaConfigBackingStore.RESTART_REQUEST_V0, restart));
        Struct fencing = new Struct(KafkaConfigBackingStore.TASK_COUNT_RECORD_V0).put("task-count", 1);
        emit("config", KafkaConfigBackingStore.TASK_COUNT_RECORD_KEY("inventory"),
            value.fromConnectData("connect-configs", KafkaConfigBackingStore.TASK_COUNT_RECORD_V0, fencing));
        emit("config", KafkaConfigBackingStore.CONNECTOR_KEY("deleted"), null);

        // Offset topic: key ["<connector>", {partition}], value the offset map; schemaless JSON.
        Map<String, Object> partition = new LinkedHashMap<>();
        partition.put("server", "inv");
        Map<String, Object> offset = new LinkedHashMap<>();
        offset.put("lsn", 24023128L);
        offset.put("lsn_proc", 24023128L);
        offset.put("lsn_commit", 24023080L);
        offset.put("ts_usec", 1733400000000000L);
        offset.put("txId", 754L);
        offset.put("messageType", "INSERT");
        List<Object> offsetKey = Arrays.asList("inventory", partition);
        emit("offsets", text(key.fromConnectData("connect-offsets", null, offsetKey)),
            value.fromConnectData("connect-offsets", null, offset));
        Map<String, Object> mysqlPartition = new LinkedHashMap<>();
        mysqlPartition.put("server", "shop");
        Map<String, Object> mysqlOffset = new LinkedHashMap<>();
        mysqlOffset.put("transaction_id", null);
        mysqlOffset.put("ts_sec", 1733400000L);
        mysqlOffset.put("file", "mysql-bin.000003");
        mysqlOffset.put("pos", 1234L);
        mysqlOffset.put("gtids", "0-1-42");
        mysqlOffset.put("row", 1);
        mysqlOffset.put("server_id", 1L);
        mysqlOffset.put("event", 2L);
        emit("offsets", text(key.fromConnectData("connect-offsets", null, Arrays.asList("shop-mysql", mysqlPartition))),
            value.fromConnectData("connect-offsets", null, mysqlOffset));

        // Status topic.
        Constructor<KafkaStatusBackingStore> sc = KafkaStatusBackingStore.class.getDeclaredConstructor(
            Time.class, org.apache.kafka.connect.storage.Converter.class, String.class,
            java.util.function.Supplier.class, org.apache.kafka.connect.util.KafkaBasedLog.class);
        sc.setAccessible(true);
        KafkaStatusBackingStore status = sc.newInstance(Time.SYSTEM, value, "connect-status", null, null);
        Method serialize = KafkaStatusBackingStore.class.getDeclaredMethod("serialize", AbstractStatus.class);
        serialize.setAccessible(true);
        emit("status", "status-connector-inventory", (byte[]) serialize.invoke(status,
            new ConnectorStatus("inventory", AbstractStatus.State.RUNNING, "10.0.0.7:8083", 3, "3.6.3.Final")));
        emit("status", "status-task-inventory-0", (byte[]) serialize.invoke(status,
            new TaskStatus(new ConnectorTaskId("inventory", 0), AbstractStatus.State.FAILED, "10.0.0.7:8083", 3,
                "org.apache.kafka.connect.errors.ConnectException: boom\n\tat x.y(Z.java:1)\n", "3.6.3.Final")));
    }

    /** An instance without running its constructor, with its converter set: only to call a serializer. */
    static Object allocate(Class<?> type, JsonConverter converter) throws Exception {
        java.lang.reflect.Field unsafeField = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
        unsafeField.setAccessible(true);
        Object unsafe = unsafeField.get(null);
        Object obj = unsafe.getClass().getMethod("allocateInstance", Class.class).invoke(unsafe, type);
        java.lang.reflect.Field f = type.getDeclaredField("converter");
        f.setAccessible(true);
        f.set(obj, converter);
        java.lang.reflect.Field t = type.getDeclaredField("topic");
        t.setAccessible(true);
        t.set(obj, "connect-configs");
        return obj;
    }
}
