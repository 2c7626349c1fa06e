;;; emacs_e2e.el --- End-to-end test of editors/emacs/golsp-leaks.el in batch Emacs  -*- lexical-binding: t; -*-

;; emacs --batch -Q -l tests/editors/emacs_e2e.el
;;
;; Environment: GOLSP_LEAKS_EL (folder of golsp-leaks.el), ELPA_DIR (folder of the elpa-*
;; packages), GO_FILE (Go file with one lost-cancel leak at LEAK_LINE:LEAK_COLUMN), FIXED_FILE
;; (what it must become), FIX_TITLE, SERVER_CMD and GOPLS_CMD (JSON arrays; the real gopls),
;; TYPE_ERROR_LINE / TYPE_ERROR_MESSAGE (a type error gopls must report before and after the fix,
;; in the modes with gopls), RASS (the rass
;; executable), RESULT (JSON result file), E2E_MODE: "eglot" (golsp-leaks alone), "eglot-rass"
;; (rass -- gopls -- golsp-leaks serve) or "lsp-mode" (golsp-leaks as an add-on next to gopls).

;;; Code:

(require 'cl-lib)
(require 'json)
(require 'subr-x)

(defvar e2e-result (list (cons 'ok :json-false) (cons 'steps nil)))
(defvar e2e-start (float-time))
(defvar e2e-mode (getenv "E2E_MODE"))

(defun e2e-set (key value)
  (setf (alist-get key e2e-result) value))

(defun e2e-step (name &optional detail)
  (let ((ms (round (* 1000 (- (float-time) e2e-start)))))
    (push (list (cons 'name name) (cons 'ms ms) (cons 'detail (or detail ""))) (alist-get 'steps e2e-result))
    (princ (format "emacs-e2e[%s]: %d ms %s%s\n" e2e-mode ms name (if detail (concat ": " detail) ""))
           #'external-debugging-output)))

(defun e2e-finish (code)
  (e2e-set 'total_ms (round (* 1000 (- (float-time) e2e-start))))
  (setf (alist-get 'steps e2e-result) (vconcat (reverse (alist-get 'steps e2e-result))))
  (with-temp-file (getenv "RESULT")
    (insert (json-encode e2e-result)))
  (kill-emacs code))

(defun e2e-idle ()
  "Run the idle timers, as Emacs does when the user stops typing.
Batch Emacs never becomes idle, and eglot sends its didChange and flymake
starts its checks from idle timers."
  (dolist (timer (copy-sequence timer-idle-list))
    (when (memq timer timer-idle-list)
      (timer-event-handler timer))))

(defun e2e-wait (what timeout pred)
  "Wait up to TIMEOUT seconds for PRED, processing events; fail naming WHAT."
  (let ((deadline (+ (float-time) timeout))
        (value nil))
    (while (and (not (setq value (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05)
      (e2e-idle)
      (sit-for 0.01))
    (or value (error "Timed out after %ss waiting for %s" timeout what))))

(defun e2e-read (file)
  (with-temp-buffer
    (insert-file-contents file)
    (buffer-string)))

(defun e2e-buffer-text ()
  (save-restriction (widen) (buffer-substring-no-properties (point-min) (point-max))))

(defun e2e-goto (line column)
  (goto-char (point-min))
  (forward-line (1- line))
  (forward-char (1- column)))

;;;; Load path: the Debian elpa packages (emacs -Q skips site-start), and the package under test.

(dolist (dir (directory-files (getenv "ELPA_DIR") t "^[^.]"))
  (when (file-directory-p dir)
    (add-to-list 'load-path dir)))
(add-to-list 'load-path (getenv "GOLSP_LEAKS_EL"))

(defvar e2e-root (file-name-directory (getenv "GO_FILE")))
;; A project for project.el without version control: the Go module's folder.
(with-eval-after-load 'project
  (add-hook 'project-find-functions (lambda (_dir) (cons 'transient e2e-root))))

(setq make-backup-files nil
      auto-save-default nil
      create-lockfiles nil
      inhibit-message nil
      flymake-no-changes-timeout 0.1)

(defvar e2e-fixed (e2e-read (getenv "FIXED_FILE")))
(defvar e2e-original (e2e-read (getenv "GO_FILE")))
(defvar e2e-fix-title (getenv "FIX_TITLE"))
(defvar e2e-line (string-to-number (getenv "LEAK_LINE")))
(defvar e2e-column (string-to-number (getenv "LEAK_COLUMN")))
(defvar e2e-server-cmd (append (json-read-from-string (getenv "SERVER_CMD")) nil))
(defvar e2e-gopls (append (json-read-from-string (getenv "GOPLS_CMD")) nil))
(defvar e2e-type-error-line (string-to-number (or (getenv "TYPE_ERROR_LINE") "0")))
(defvar e2e-type-error-line-fixed (string-to-number (or (getenv "TYPE_ERROR_LINE_FIXED") "0")))
(defvar e2e-type-error-message (getenv "TYPE_ERROR_MESSAGE"))

;;;; What the servers publish, with the document version each report is for

(defvar e2e-published nil
  "The publishDiagnostics seen for GO_FILE, newest first: (SERVER VERSION DIAGS),
DIAGS a list of (LINE SEVERITY SOURCE MESSAGE), LINE 1-based.")

(defvar e2e-seq 0 "How many reports `e2e-record' has seen.")
(defvar e2e-fix-seq 0 "`e2e-seq' when the quick fix was applied.")

(defun e2e-record (server version diagnostics)
  (setq e2e-seq (1+ e2e-seq))
  (push (list server version
              (mapcar (lambda (d)
                        (list (1+ (e2e-get d "range" "start" "line")) (e2e-get d "severity")
                              (e2e-get d "source") (e2e-get d "message")))
                      (append diagnostics nil))
              e2e-seq)
        e2e-published))

(defun e2e-get (object &rest keys)
  "KEYS (strings) looked up in OBJECT, a plist (eglot) or a hash table (lsp-mode)."
  (dolist (key keys object)
    (setq object (if (hash-table-p object) (gethash key object)
                   (plist-get object (intern (concat ":" key)))))))

(defun e2e-gopls-part (diags)
  "The diagnostics in DIAGS that are not golsp-leaks's."
  (cl-remove "golsp-leaks" diags :key #'caddr :test #'equal))

(defun e2e-gopls-right-p (diags line)
  "Whether gopls's part of DIAGS is exactly the deliberate type error, on LINE."
  (let ((theirs (e2e-gopls-part diags)))
    (and (= (length theirs) 1)
         (eql (nth 0 (car theirs)) line)
         (eql (nth 1 (car theirs)) 1)
         (string-match-p (regexp-quote e2e-type-error-message) (nth 3 (car theirs))))))

(defun e2e-check-gopls (key line version server &optional after)
  "Wait for SERVER's report (any server when nil) for VERSION that has gopls's part.
It must be the type error alone, on LINE.  With VERSION nil (lsp-mode 8 does not offer
versionSupport, so gopls sends none): the first report after report number AFTER whose
gopls part is on LINE."
  (let (report)
    (e2e-set 'published (format "%S" e2e-published))
    (e2e-wait (format "gopls's diagnostics for version %s" (or version (format "after report %s" after))) 40
              (lambda ()
                (setq report (cl-find-if (lambda (p) (and (if version (eql (nth 1 p) version)
                                                            (and (> (nth 3 p) after)
                                                                 (cl-find line (e2e-gopls-part (nth 2 p)) :key #'car)))
                                                          (or (null server) (equal (car p) server))
                                                          (e2e-gopls-part (nth 2 p))))
                                         e2e-published))))
    (e2e-set key (json-encode (vconcat (mapcar #'vconcat (e2e-gopls-part (nth 2 report))))))
    (unless (e2e-gopls-right-p (nth 2 report) line)
      (error "gopls reports %S for version %s" (e2e-gopls-part (nth 2 report)) version))
    (e2e-step (format "gopls right for version %s" version) (cdr (assoc key e2e-result)))))

;; The settings under test: lost-cancel reported as an error.
(setq golsp-leaks-command e2e-server-cmd
      golsp-leaks-severity '(("lost-cancel" . "error"))
      golsp-leaks-debounce-ms 50)

;;;; eglot

(defun e2e-flymake-diags (&optional regexp)
  "This buffer's flymake diagnostics whose text matches REGEXP."
  (cl-remove-if-not (lambda (d) (or (null regexp) (string-match-p regexp (flymake-diagnostic-text d))))
                    (flymake-diagnostics)))

(defun e2e-eglot ()
  (require 'go-mode)
  (require 'eglot)
  (require 'golsp-leaks)
  (e2e-set 'eglot_entry (format "%S" (assoc '(go-mode go-ts-mode) eglot-server-programs)))
  (when (equal e2e-mode "eglot-rass")
    (setq golsp-leaks-eglot-with-gopls 'rass
          golsp-leaks-rass-command (list (getenv "RASS"))
          golsp-leaks-gopls-command e2e-gopls)
    (advice-add 'eglot-handle-notification :before
                (lambda (_server method &rest params)
                  (when (eq method 'textDocument/publishDiagnostics)
                    (e2e-record "rass" (plist-get params :version) (plist-get params :diagnostics))))))
  (find-file (getenv "GO_FILE"))
  (e2e-set 'major_mode (symbol-name major-mode))
  (let ((guess (eglot--guess-contact)))
    (e2e-set 'contact (format "%S" (nth 3 guess)))
    (apply #'eglot guess))
  (e2e-wait "eglot to connect" 30 (lambda () (and (eglot-current-server) (eglot--managed-mode))))
  (e2e-set 'server_command (format "%S" (process-command (jsonrpc--process (eglot-current-server)))))
  (e2e-step "eglot connected" (cdr (assoc 'server_command e2e-result)))
  (e2e-set 'workspace_configuration (json-encode (eglot--workspace-configuration-plist (eglot-current-server))))

  ;; Diagnostics through flymake, with the configured severity.
  (e2e-wait "the lost-cancel diagnostic" 30 (lambda () (e2e-flymake-diags "lost-cancel")))
  (let ((d (car (e2e-flymake-diags "lost-cancel"))))
    (e2e-set 'diagnostic (flymake-diagnostic-text d))
    (e2e-set 'diagnostic_type (symbol-name (flymake-diagnostic-type d)))
    (e2e-set 'diagnostic_line (line-number-at-pos (flymake-diagnostic-beg d)))
    (unless (eq (flymake-diagnostic-type d) 'eglot-error)
      (error "The severity setting did not reach the server: %S" (flymake-diagnostic-type d))))
  (when (equal e2e-mode "eglot-rass")
    (e2e-wait "gopls's diagnostic too" 40 (lambda () (e2e-flymake-diags (regexp-quote e2e-type-error-message))))
    (e2e-set 'gopls_diagnostic (flymake-diagnostic-text (car (e2e-flymake-diags (regexp-quote e2e-type-error-message)))))
    (e2e-check-gopls 'gopls_before e2e-type-error-line eglot--versioned-identifier nil))
  (e2e-step "diagnostic" (cdr (assoc 'diagnostic e2e-result)))

  ;; The quick fix, as a user picks it in M-x eglot-code-actions.  Through rass, an answer that
  ;; comes later than rass's aggregation timeout (3 s; a busy machine) is left out of the menu:
  ;; then the user asks again.
  (e2e-goto e2e-line e2e-column)
  (let ((offered nil)
        (attempts 0)
        (last-nonmenu-event 13))        ; a key press, not a mouse click: completing-read
    (while
        (catch 'again
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (_prompt collection &rest _)
                       (setq offered (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                       (or (car (member e2e-fix-title offered))
                           (and (equal e2e-mode "eglot-rass") (< (cl-incf attempts) 3)
                                (throw 'again t))
                           (error "No %S among the code actions %S" e2e-fix-title offered)))))
            (call-interactively #'eglot-code-actions))
          nil))
    (e2e-set 'offered (vconcat offered)))
  (e2e-wait "the fix in the buffer" 10 (lambda () (equal (e2e-buffer-text) e2e-fixed)))
  (e2e-step "quick fix applied")
  (e2e-wait "the diagnostic to go" 15 (lambda () (null (e2e-flymake-diags "lost-cancel"))))
  (e2e-step "diagnostic gone")
  (when (equal e2e-mode "eglot-rass")
    ;; gopls, attached all along through rass, on the fixed text: the type error alone.
    (e2e-check-gopls 'gopls_after_fix e2e-type-error-line-fixed eglot--versioned-identifier nil))

  (unless (equal e2e-mode "eglot-rass")
    ;; The leaky text again: back as an error; a live settings change makes it a warning.
    (erase-buffer)
    (insert e2e-original)
    (e2e-wait "the diagnostic after undo" 15
              (lambda () (cl-find 'eglot-error (e2e-flymake-diags "lost-cancel") :key #'flymake-diagnostic-type)))
    (customize-set-variable 'golsp-leaks-severity '(("lost-cancel" . "warning")))
    (e2e-wait "the severity to change live" 15
              (lambda () (cl-find 'eglot-warning (e2e-flymake-diags "lost-cancel") :key #'flymake-diagnostic-type)))
    (e2e-step "golsp-leaks-severity changed live: now a warning")
    (golsp-leaks-fix-all)
    (e2e-wait "fix all in the buffer" 10 (lambda () (equal (e2e-buffer-text) e2e-fixed)))
    (e2e-wait "the diagnostic to go after fix all" 15 (lambda () (null (e2e-flymake-diags "lost-cancel"))))
    (e2e-step "golsp-leaks-fix-all"))

  (save-buffer)
  (e2e-set 'file_after (e2e-read (getenv "GO_FILE")))
  (unless (equal (cdr (assoc 'file_after e2e-result)) e2e-fixed)
    (error "The file on disk is not the fixed one"))
  (eglot-shutdown (eglot-current-server) nil 5))

;;;; lsp-mode

(defvar lsp-client-packages)
(defun e2e-lsp ()
  (setq lsp-client-packages nil         ; no built-in clients (the real gopls one among them)
        lsp-session-file (expand-file-name "lsp-session" (getenv "E2E_TMP"))
        lsp-server-install-dir (expand-file-name "lsp-servers" (getenv "E2E_TMP"))
        lsp-auto-guess-root t
        lsp-guess-root-without-session t
        lsp-restart 'ignore
        lsp-keep-workspace-alive nil
        lsp-enable-file-watchers nil
        lsp-enable-snippet nil
        lsp-headerline-breadcrumb-enable nil
        lsp-modeline-code-actions-enable nil
        lsp-modeline-diagnostics-enable nil
        lsp-lens-enable nil
        lsp-diagnostics-provider :none
        lsp-log-io nil
        lsp-debounce-full-sync-notifications-interval 0.05)
  (require 'go-mode)
  (require 'lsp-mode)
  (require 'golsp-leaks)
  ;; The real gopls as lsp-mode's main client for Go.
  (advice-add 'lsp--on-diagnostics :before
              (lambda (workspace params)
                (e2e-record (symbol-name (lsp--client-server-id (lsp--workspace-client workspace)))
                            (e2e-get params "version") (e2e-get params "diagnostics"))))
  (lsp-register-client
   (make-lsp-client :new-connection (lsp-stdio-connection e2e-gopls)
                    :major-modes '(go-mode)
                    :priority 0
                    :server-id 'gopls))
  (e2e-set 'add_on (if (lsp--client-add-on? (gethash 'golsp-leaks lsp-clients)) t :json-false))
  (find-file (getenv "GO_FILE"))
  (lsp-workspace-folders-add e2e-root)
  (lsp)
  (e2e-wait "both servers" 30
            (lambda () (and (= (length (lsp-workspaces)) 2)
                            (cl-every (lambda (w) (eq (lsp--workspace-status w) 'initialized)) (lsp-workspaces)))))
  (e2e-set 'servers (vconcat (mapcar (lambda (w) (symbol-name (lsp--client-server-id (lsp--workspace-client w))))
                                     (lsp-workspaces))))
  (e2e-step "lsp-mode started gopls and golsp-leaks" (format "%S" (cdr (assoc 'servers e2e-result))))

  (let ((file (lsp--fix-path-casing (buffer-file-name))))
    (cl-flet ((ours () (cl-remove-if-not (lambda (d) (equal (lsp:diagnostic-source? d) "golsp-leaks"))
                                         (gethash file (lsp-diagnostics t)))))
      (e2e-wait "the lost-cancel diagnostic" 30 (lambda () (ours)))
      (let ((d (car (ours))))
        (e2e-set 'diagnostic (lsp:diagnostic-message d))
        (e2e-set 'diagnostic_code (lsp:diagnostic-code? d))
        (e2e-set 'diagnostic_severity (lsp:diagnostic-severity? d))
        (unless (eql (lsp:diagnostic-severity? d) 1)
          (error "The severity setting did not reach the server: %S" (lsp:diagnostic-severity? d))))
      (e2e-wait "gopls's diagnostic" 40
                (lambda () (cl-find-if (lambda (d) (string-match-p (regexp-quote e2e-type-error-message) (lsp:diagnostic-message d)))
                                       (gethash file (lsp-diagnostics t)))))
      (e2e-check-gopls 'gopls_before e2e-type-error-line nil "gopls" 0)
      (e2e-step "diagnostics from both servers")

      ;; A live settings change (Customize): now a warning.
      (customize-set-variable 'golsp-leaks-severity '(("lost-cancel" . "warning")))
      (e2e-wait "the severity to change live" 15
                (lambda () (cl-find 2 (ours) :key #'lsp:diagnostic-severity?)))
      (e2e-set 'live_severity 2)
      (e2e-step "golsp-leaks-severity changed live: now a warning")

      (e2e-goto e2e-line e2e-column)
      ;; (One list per server that answered: gopls's and golsp-leaks's actions, flattened.)
      (let* ((actions (cl-remove-if-not #'hash-table-p (flatten-tree (lsp-code-actions-at-point))))
             (titles (mapcar #'lsp:code-action-title actions))
             (fix (cl-find e2e-fix-title actions :key #'lsp:code-action-title :test #'equal)))
        (e2e-set 'offered (vconcat titles))
        (unless fix (error "No %S among the code actions %S" e2e-fix-title titles))
        (lsp-execute-code-action fix))
      (setq e2e-fix-seq e2e-seq)
      (e2e-wait "the fix in the buffer" 10 (lambda () (equal (e2e-buffer-text) e2e-fixed)))
      (e2e-step "quick fix applied (lsp-execute-code-action)")
      (e2e-wait "the diagnostic to go" 15 (lambda () (null (ours))))
      (e2e-step "diagnostic gone")
      (e2e-check-gopls 'gopls_after_fix e2e-type-error-line-fixed nil "gopls" e2e-fix-seq)))
  (save-buffer)
  (e2e-set 'file_after (e2e-read (getenv "GO_FILE")))
  (lsp-workspace-shutdown (car (lsp-workspaces))))

;;;; Run

(condition-case err
    (progn
      (pcase e2e-mode
        ((or "eglot" "eglot-rass") (e2e-eglot))
        ("lsp-mode" (e2e-lsp))
        (_ (error "Unknown E2E_MODE %S" e2e-mode)))
      (e2e-set 'ok t)
      (e2e-finish 0))
  (error
   (e2e-set 'error (error-message-string err))
   (when (getenv "E2E_EVENTS")
     (dolist (b (buffer-list))
       (when (string-match-p "events" (buffer-name b))
         (with-current-buffer b
           (write-region (point-min) (point-max) (getenv "E2E_EVENTS") t)))))
   (princ (format "emacs-e2e[%s]: FAILED: %s\n" e2e-mode (error-message-string err)) #'external-debugging-output)
   (e2e-finish 1)))

;;; emacs_e2e.el ends here
