// Owl's Java launcher. The actions-runtime proxy starts it once per container: it loads the action's
// jar, acknowledges on file descriptor 3, then answers each activation (one line on stdin: a tag, a
// tab and the JSON message) with one line on descriptor 3 (the same tag, a tab and the JSON result),
// in the order they came. The action's System.out and System.err are the container's log.
//
// What it does and the words it says are those of OpenWhisk's Java runtime (openwhisk-runtime-java
// core/java8/proxy: Proxy.java, JarLoader.java, WhiskSecurityManager.java):
// - `code` is a base64 jar, decoded whatever `binary` says; `main` is `Class` or `Class#method`
//   (method `main` by default). Loading finds the class and a method of that name but runs nothing:
//   static initialisers run at the first activation.
// - an activation calls `public static JsonObject|JsonArray <method>(JsonObject|JsonArray)`, the
//   parameter's type being that of `value`; the `__OW_*` context is put in the map behind
//   System.getenv() (as JarLoader.augmentEnv does), and System.exit is refused while it runs.
// - failures are upstream's 502 answers, `An error has occurred (see logs for details): <exception>`
//   or, for what the action threw, `An error has occurred while invoking the action (see logs for
//   details): <exception>`, with the stack trace on stderr. An Error that upstream's handlers do not
//   catch (a failed static initialiser, a class that does not link) ends its server; it ends this
//   process, which the proxy reports as the death of the action.
package owl;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.Permission;
import java.util.HashMap;
import java.util.Map;

public final class Launcher {
    // A result carrying only this key is a failure to run (502 with its message), not a result.
    private static final String DEVELOPER_ERROR = "__owl_developer_error";
    private static final String ERROR = "An error has occurred (see logs for details): ";
    private static final String INVOKE_ERROR =
            "An error has occurred while invoking the action (see logs for details): ";

    private static OutputStream results;
    private static final PrintStream stdout = System.out;
    private static final PrintStream stderr = System.err;

    /** Refuses System.exit (and Runtime.halt) while an action runs, as WhiskSecurityManager does. */
    static final class ExitGuard extends SecurityManager {
        volatile boolean running;

        @Override
        public void checkPermission(Permission p) {}

        @Override
        public void checkPermission(Permission p, Object context) {}

        @Override
        public void checkExit(int status) {
            if (running) {
                throw new SecurityException("System.exit(" + status + ") called from within an action.");
            }
        }
    }

    private static final ExitGuard guard = new ExitGuard();

    /**
     * Java 18+ warns on the first stderr, the action's log, when a security manager is set (upstream's
     * Java 8 does not): the warning goes nowhere (needs --add-opens java.base/java.lang=ALL-UNNAMED).
     */
    private static void installGuard() {
        if (System.getSecurityManager() == guard) {
            return;
        }
        Field warnings = null;
        Object saved = null;
        try {
            warnings = System.class.getDeclaredField("initialErrStream");
            warnings.setAccessible(true);
            saved = warnings.get(null);
            warnings.set(null, new PrintStream(OutputStream.nullOutputStream()));
        } catch (ReflectiveOperationException | RuntimeException e) {
            warnings = null;
        }
        try {
            System.setSecurityManager(guard);
        } catch (UnsupportedOperationException e) {
            // Started without -Djava.security.manager=allow: System.exit ends the process.
        } finally {
            if (warnings != null) {
                try {
                    warnings.set(null, saved);
                } catch (ReflectiveOperationException e) {
                    // Left as it was set: only this warning would have used it.
                }
            }
        }
    }

    /** Sets variables as the action sees them through System.getenv (upstream's augmentEnv). */
    @SuppressWarnings("unchecked")
    private static void setenv(Map<String, String> vars) {
        try {
            Map<String, String> env = System.getenv();
            Field m = env.getClass().getDeclaredField("m");
            m.setAccessible(true);
            ((Map<String, String>) m.get(env)).putAll(vars);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // Without --add-opens java.base/java.util=ALL-UNNAMED the context is not visible;
            // upstream ignores this failure too.
        }
    }

    private static void answer(String tag, String json) throws IOException {
        System.out.flush();
        System.err.flush();
        stdout.flush();
        stderr.flush();
        if (tag != null) {
            results.write(tag.getBytes(StandardCharsets.US_ASCII));
            results.write('\t');
        }
        results.write(json.getBytes(StandardCharsets.UTF_8));
        results.write('\n');
        results.flush();
    }

    private static String message(String key, String text) {
        JsonObject o = new JsonObject();
        o.addProperty(key, text);
        return o.toString();
    }

    /** The action's code as a jar, or why upstream's decoding of it failed. */
    private static Path jar(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        // A zip is a jar the proxy already decoded: upstream would have decoded the same bytes.
        if (bytes.length >= 4 && bytes[0] == 'P' && bytes[1] == 'K'
                && ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6))) {
            return file;
        }
        // Anything else is code as the user sent it: upstream decodes it as base64 all the same.
        File decoded = File.createTempFile("useraction", ".jar");
        decoded.deleteOnExit();
        Files.write(decoded.toPath(), decodeAsJava8(bytes));
        return decoded.toPath();
    }

    /**
     * Base64 decoded as Java 8's Base64.getDecoder().wrap(stream) decodes it (upstream's JVM), with
     * its words: Java 8 reports every illegal character as "-1" and stops at the first '=' run.
     */
    static byte[] decodeAsJava8(byte[] in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length * 3 / 4 + 3);
        int bits = 0;
        int nextin = 18;
        for (int i = 0; i < in.length; i++) {
            int c = in[i] & 0xff;
            if (c == '=') {
                if (nextin == 18 || nextin == 12
                        || (nextin == 6 && (i + 1 >= in.length || in[i + 1] != '='))) {
                    throw new IOException("Illegal base64 ending sequence:" + nextin);
                }
                out.write(bits >> 16);
                if (nextin == 0) {
                    out.write(bits >> 8);
                }
                return out.toByteArray();
            }
            int v = digit(c);
            if (v < 0) {
                throw new IOException("Illegal base64 character " + Integer.toString(v, 16));
            }
            bits |= v << nextin;
            if (nextin == 0) {
                out.write(bits >> 16);
                out.write(bits >> 8);
                out.write(bits);
                bits = 0;
                nextin = 18;
            } else {
                nextin -= 6;
            }
        }
        if (nextin == 12) {
            throw new IOException("Base64 stream has one un-decoded dangling byte.");
        }
        if (nextin != 18) {
            out.write(bits >> 16);
            if (nextin == 0) {
                out.write(bits >> 8);
            }
        }
        return out.toByteArray();
    }

    private static int digit(int c) {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    }

    private static URLClassLoader loader;
    private static Class<?> mainClass;
    private static String methodName;

    /** JarLoader's constructor: the class, and a method of that name (its signature is checked per run). */
    private static void load(String main, Path file) throws Exception {
        String[] parts = main.split("#");
        URLClassLoader l = new URLClassLoader(new URL[] {jar(file).toUri().toURL()});
        Class<?> c = l.loadClass(parts[0]);
        String name = parts.length > 1 ? parts[1] : "main";
        boolean found = false;
        for (Method method : c.getDeclaredMethods()) {
            if (method.getName().equals(name)) {
                found = true;
                break;
            }
        }
        if (!found) {
            throw new NoSuchMethodException(name);
        }
        loader = l;
        mainClass = c;
        methodName = name;
    }

    /** One activation, as RunHandler: its result's JSON, or a developer error's. */
    private static String run(String text) {
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        try {
            JsonObject body = JsonParser.parseString(text).getAsJsonObject();
            JsonElement value = body.get("value");
            boolean isObject = value.isJsonObject();
            Object argument = isObject ? value.getAsJsonObject() : value.getAsJsonArray();

            HashMap<String, String> env = new HashMap<>();
            for (Map.Entry<String, JsonElement> e : body.entrySet()) {
                try {
                    if (!e.getKey().equalsIgnoreCase("value")) {
                        env.put("__OW_" + e.getKey().toUpperCase(), e.getValue().getAsString());
                    }
                } catch (Exception ignored) {
                    // Objects and nulls have no string: upstream leaves them out.
                }
            }

            Thread.currentThread().setContextClassLoader(loader);
            installGuard();
            Method method = mainClass.getMethod(methodName, isObject ? JsonObject.class : JsonArray.class);
            method.setAccessible(true);
            int modifiers = method.getModifiers();
            Class<?> returns = method.getReturnType();
            if ((returns != JsonObject.class && returns != JsonArray.class)
                    || !Modifier.isStatic(modifiers) || !Modifier.isPublic(modifiers)) {
                throw new NoSuchMethodException(methodName);
            }
            setenv(env);
            Object output;
            guard.running = true;
            try {
                output = method.invoke(null, argument);
            } finally {
                guard.running = false;
            }
            if (output == null) {
                throw new NullPointerException("The action returned null");
            }
            return output.toString();
        } catch (InvocationTargetException ite) {
            Throwable underlying = ite.getCause();
            underlying.printStackTrace(System.err);
            return message(DEVELOPER_ERROR, INVOKE_ERROR + underlying);
        } catch (Exception e) {
            e.printStackTrace(System.err);
            return message(DEVELOPER_ERROR, ERROR + e);
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
        }
    }

    /** A standby launcher's action: where it is, its main, and the environment of its init. */
    private static void configure(String line) {
        JsonObject c = JsonParser.parseString(line).getAsJsonObject();
        HashMap<String, String> vars = new HashMap<>();
        vars.put("OW_ACTION_DIR", c.get("dir").getAsString());
        if (c.has("main") && !c.get("main").isJsonNull()) {
            vars.put("OW_ACTION_MAIN", c.get("main").getAsString());
        }
        if (c.has("file") && !c.get("file").isJsonNull()) {
            vars.put("OW_ACTION_FILE", c.get("file").getAsString());
        }
        if (c.has("env") && c.get("env").isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : c.getAsJsonObject("env").entrySet()) {
                JsonElement v = e.getValue();
                boolean string = v.isJsonPrimitive() && v.getAsJsonPrimitive().isString();
                vars.put(e.getKey(), string ? v.getAsString() : v.toString());
            }
        }
        // Java cannot change its working directory; a jar is read by its path, never from it.
        setenv(vars);
    }

    public static void main(String[] args) throws Exception {
        results = new BufferedOutputStream(new FileOutputStream("/proc/self/fd/3"), 1 << 16);
        BufferedReader in = new BufferedReader(
                new InputStreamReader(new FileInputStream(FileDescriptor.in), StandardCharsets.UTF_8), 1 << 16);
        // The action's System.in is the container's (empty), never the proxy's requests.
        System.setIn(new ByteArrayInputStream(new byte[0]));
        installGuard();
        int status = 0;
        try {
            serve(in);
        } catch (Throwable t) {
            // What upstream's handlers let through ends its HTTP server, and so the container.
            stderr.print("Exception in thread \"" + Thread.currentThread().getName() + "\" ");
            t.printStackTrace(stderr);
            status = 1;
        }
        // The proxy closed stdin (or the launcher failed): leave, whatever threads the action started.
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    private static void serve(BufferedReader in) throws Exception {
        if ("1".equals(System.getenv("OW_STANDBY"))) {
            String first = in.readLine();
            if (first == null) {
                return;
            }
            configure(first);
        }
        String main = System.getenv("OW_ACTION_MAIN");
        String file = System.getenv("OW_ACTION_FILE");
        if (file == null) {
            file = Paths.get(System.getenv("OW_ACTION_DIR"), "action.jar").toString();
        }
        if (main == null) {
            answer(null, message("error", "Missing main/no code to execute."));
            return;
        }
        try {
            load(main, Paths.get(file));
        } catch (Exception e) {
            e.printStackTrace(System.err);
            answer(null, message("error", ERROR + e));
            return;
        }
        answer(null, "{\"ok\":true}");

        String line;
        while ((line = in.readLine()) != null) {
            int tab = line.indexOf('\t');
            String tag = line.substring(0, tab);
            answer(tag, run(line.substring(tab + 1)));
        }
    }
}
