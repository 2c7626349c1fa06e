package actions

import (
	"context"
	"fmt"
	"log"
	"net/smtp"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/example/buffalo-blog/models"
)

// publishScheduled publishes the posts whose time has come, once a minute.
func publishScheduled(ctx context.Context) {
	// Leak: the ticker is never stopped; when the app stops and this returns, its timer stays behind.
	ticker := time.NewTicker(time.Minute)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			err := models.DB.RawQuery(
				`UPDATE posts SET published_at = publish_at
				 WHERE published_at IS NULL AND publish_at <= ?`, now).Exec()
			if err != nil {
				log.Printf("publish: %v", err)
			}
		}
	}
}

// weeklyDigest mails the week's posts every Monday morning until ctx is cancelled.
func weeklyDigest(ctx context.Context) {
	for {
		timer := time.NewTimer(time.Until(nextMonday(time.Now())))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		posts := models.Posts{}
		since := time.Now().AddDate(0, 0, -7)
		if err := models.DB.Where("published_at > ?", since).All(&posts); err != nil {
			log.Printf("digest: %v", err)
			continue
		}
		subscribers := []models.Subscriber{}
		if err := models.DB.All(&subscribers); err != nil {
			log.Printf("digest: %v", err)
			continue
		}
		if len(posts) > 0 {
			sendDigest(posts, subscribers)
		}
	}
}

func nextMonday(now time.Time) time.Time {
	days := (8 - int(now.Weekday())) % 7
	if days == 0 {
		days = 7
	}
	y, m, d := now.AddDate(0, 0, days).Date()
	return time.Date(y, m, d, 8, 0, 0, 0, now.Location())
}

// sendDigest mails the posts to every subscriber with four senders.
func sendDigest(posts models.Posts, subscribers []models.Subscriber) {
	// Leak: emails is never closed, so the four senders wait in their range loops for ever.
	emails := make(chan string)
	for i := 0; i < 4; i++ {
		go func() {
			for addr := range emails {
				if err := mail(addr, "This week on the blog", digestBody(posts)); err != nil {
					log.Printf("digest to %s: %v", addr, err)
				}
			}
		}()
	}
	for _, s := range subscribers {
		emails <- s.Email
	}
}

// sendAnnouncement mails one post the same way, and closes the channel so the senders finish.
func sendAnnouncement(post models.Post, subscribers []models.Subscriber) {
	emails := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for addr := range emails {
				if err := mail(addr, post.Title, post.Body); err != nil {
					log.Printf("announcement to %s: %v", addr, err)
				}
			}
		}()
	}
	for _, s := range subscribers {
		emails <- s.Email
	}
	close(emails)
	wg.Wait()
}

func digestBody(posts models.Posts) string {
	var b strings.Builder
	for _, p := range posts {
		fmt.Fprintf(&b, "%s\nhttps://blog.example.com/posts/%s\n\n", p.Title, p.Slug)
	}
	return b.String()
}

func mail(to, subject, body string) error {
	host := os.Getenv("SMTP_HOST")
	auth := smtp.PlainAuth("", os.Getenv("SMTP_USER"), os.Getenv("SMTP_PASSWORD"), host)
	msg := "To: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + body
	return smtp.SendMail(host+":587", auth, "blog@example.com", []string{to}, []byte(msg))
}
