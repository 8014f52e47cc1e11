// Runs Debezium's embedded engine (the reference implementation runnel is compared with) and
// writes every record as one JSON line {"topic":…, "key":…, "value":…}, the file sink's format.
//
//   java -cp "<libs>/*:." DbzCapture <connector.properties> <out.jsonl> <stop-after-records> <idle-ms>
//
// Stops after <stop-after-records> records, or when no record arrived for <idle-ms> after the first.
// Prints "records=<n> seconds=<s>" at the end (the benchmark reads it).
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;

import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.FileWriter;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

public class DbzCapture {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        final long stopAfter = Long.parseLong(args[2]);
        final long idleMs = Long.parseLong(args[3]);
        final BufferedWriter out = new BufferedWriter(new FileWriter(args[1]), 1 << 20);
        final AtomicLong count = new AtomicLong();
        final AtomicLong firstNanos = new AtomicLong();
        final AtomicLong lastNanos = new AtomicLong();

        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
            .using(props)
            .notifying((List<ChangeEvent<String, String>> records,
                        DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer) -> {
                try {
                for (ChangeEvent<String, String> r : records) {
                    out.write("{\"topic\":\"");
                    out.write(r.destination());
                    out.write("\",\"key\":");
                    out.write(r.key() == null ? "null" : r.key());
                    out.write(",\"value\":");
                    out.write(r.value() == null ? "null" : r.value());
                    out.write("}\n");
                    committer.markProcessed(r);
                    long now = System.nanoTime();
                    firstNanos.compareAndSet(0, now);
                    lastNanos.set(now);
                    count.incrementAndGet();
                }
                out.flush();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                committer.markBatchFinished();
            })
            .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        long started = System.nanoTime();
        while (true) {
            Thread.sleep(50);
            long n = count.get();
            if (n >= stopAfter) break;
            long last = lastNanos.get();
            if (n > 0 && (System.nanoTime() - last) / 1_000_000 > idleMs) break;
            if (n == 0 && (System.nanoTime() - started) / 1_000_000 > 600_000) break;
        }
        engine.close();
        executor.shutdown();
        executor.awaitTermination(30, TimeUnit.SECONDS);
        out.close();
        double secs = (lastNanos.get() - firstNanos.get()) / 1e9;
        System.out.println("records=" + count.get() + " seconds=" + secs);
        System.exit(0);
    }
}
